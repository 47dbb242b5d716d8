// draft-ietf-oauth-client-id-metadata-document §3–§4 — a client_id that is an https URL names a
// JSON document of client metadata at that URL. Its client_id must be that URL exactly, it may not
// carry a shared secret, and the rest is narrowed like a registration (register/client-metadata.schema.ts).
// A failure is either "unreachable" (network, DNS, TLS, an HTTP status, a timeout: the document was
// never read) or "refused" (read, but not JSON, another client_id, or unsafe content).
import { OAuthError } from '../errors.ts';
import { parseClientMetadata } from '../register/client-metadata.schema.ts';
import type { ClientMetadata } from './client.ts';
import { safeFetch, SafeFetchError, type SafeFetchOptions } from '../../lib/outbound/safe-fetch.ts';

/** unreachable: we could not read the document; refused: we read it and it is not acceptable. */
export type DocumentFailureKind = 'unreachable' | 'refused';

export class ClientMetadataDocumentError extends Error {
  override name = 'ClientMetadataDocumentError';
  readonly kind: DocumentFailureKind;
  /** The HTTP status the host answered, when that is why it was unreachable. */
  readonly httpStatus: number | undefined;
  constructor(kind: DocumentFailureKind, message: string, options?: ErrorOptions & { httpStatus?: number }) {
    super(message, options);
    this.kind = kind;
    this.httpStatus = options?.httpStatus;
  }
}

const MAX_CLIENT_ID_URL_LENGTH = 2000;

/** Whether a client_id is meant as a metadata document URL (as opposed to an id we issued). */
export function looksLikeClientIdUrl(clientId: string): boolean {
  return /^https:/i.test(clientId);
}

/**
 * §3 — why this client_id cannot be a metadata document URL, or undefined: https, a path beyond
 * "/", no fragment, no user name or password, no dot segments. The URL must be in its normalised
 * form, since the document's client_id is compared with it byte for byte.
 */
export function clientIdUrlProblem(clientId: string): string | undefined {
  if (clientId.length > MAX_CLIENT_ID_URL_LENGTH) return 'the client_id URL is too long';
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return 'the client_id is not a URL';
  }
  if (url.protocol !== 'https:') return 'a client_id URL must use https';
  if (clientId.includes('#')) return 'a client_id URL must not have a fragment';
  if (url.username !== '' || url.password !== '') return 'a client_id URL must not contain a user name or password';
  if (url.pathname === '/' || url.pathname === '') return 'a client_id URL must have a path';
  if (url.href !== clientId) return 'the client_id URL is not in normalised form (dot segments, case, default port or escaping)';
  return undefined;
}

/** §4 — the document's metadata, or a ClientMetadataDocumentError saying what is wrong with it. */
export function validateClientMetadataDocument(clientId: string, body: Buffer): ClientMetadata {
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ClientMetadataDocumentError('refused', 'the document is not JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ClientMetadataDocumentError('refused', 'the document is not a JSON object');
  }
  const fields = document as Record<string, unknown>;
  if (fields.client_id !== clientId) {
    throw new ClientMetadataDocumentError('refused', `the document's client_id (${JSON.stringify(fields.client_id)}) is not its own URL`);
  }
  if (fields.client_secret !== undefined || fields.client_secret_expires_at !== undefined) {
    throw new ClientMetadataDocumentError('refused', 'the document contains a client secret, which a public document must not');
  }
  try {
    return parseClientMetadata(fields, 'document');
  } catch (err) {
    if (err instanceof OAuthError) throw new ClientMetadataDocumentError('refused', `${err.code}: ${err.message}`, { cause: err });
    throw err;
  }
}

export interface FetchedClientMetadataDocument {
  metadata: ClientMetadata;
  /** The response's Cache-Control max-age (0 for no-store / no-cache), if it gave one. */
  maxAgeSeconds: number | undefined;
}

/** RFC 9111 §5.2.2 — the freshness lifetime a response asks for, if any. */
export function cacheControlMaxAge(cacheControl: string | undefined): number | undefined {
  if (!cacheControl) return undefined;
  const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  for (const d of directives) {
    const m = /^max-age\s*=\s*"?(\d+)"?$/.exec(d);
    if (m?.[1] !== undefined) return Number(m[1]);
  }
  return undefined;
}

/** Fetches (SSRF-safely) and validates the metadata document a client_id URL names. */
export async function fetchClientMetadataDocument(
  clientId: string,
  options: SafeFetchOptions,
): Promise<FetchedClientMetadataDocument> {
  const problem = clientIdUrlProblem(clientId);
  if (problem) throw new ClientMetadataDocumentError('refused', problem);
  let fetched;
  try {
    fetched = await safeFetch(new URL(clientId), options);
  } catch (err) {
    if (err instanceof SafeFetchError) {
      throw new ClientMetadataDocumentError('unreachable', `fetching it failed: ${err.message}`, { cause: err, httpStatus: httpStatusOf(err.message) });
    }
    throw err;
  }
  return {
    metadata: validateClientMetadataDocument(clientId, fetched.body),
    maxAgeSeconds: cacheControlMaxAge(fetched.cacheControl),
  };
}

/** safe-fetch.ts words a non-200 answer "answered HTTP <status>". */
function httpStatusOf(message: string): number | undefined {
  const m = /^answered HTTP (\d{3})$/.exec(message);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}
