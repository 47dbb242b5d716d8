// RFC 7591 §2 — the client metadata we accept, for registrations and (with the extra rules of
// clients/client-metadata-document.ts) for client ID metadata documents. Unknown fields are dropped;
// a bad redirect URI is `invalid_redirect_uri`, anything else `invalid_client_metadata` (§3.2.2).
import { z } from 'zod';
import { TOKEN_ENDPOINT_AUTH_METHODS, type ClientMetadata } from '../clients/client.ts';
import { redirectUriProblem } from '../clients/redirect-uri.ts';
import { InvalidClientMetadata, InvalidRedirectUri } from '../errors.ts';
import { formatScope, parseScope } from '../scopes.ts';

export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
export const SUPPORTED_RESPONSE_TYPES = ['code'] as const;

const MAX_REDIRECT_URIS = 20;
const MAX_CLIENT_NAME_LENGTH = 200;
const MAX_URL_LENGTH = 2000;

/** C0/C1 controls and bidirectional overrides: they could disguise a name on the consent page. */
const INVISIBLE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const unique = <T>(values: T[]): T[] => [...new Set(values)];

function isHttpsUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

const httpsUrl = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .max(MAX_URL_LENGTH, { error: `${field} is longer than ${MAX_URL_LENGTH} characters` })
    .refine(isHttpsUrl, { error: `${field} must be an https URL` });

const shortString = (field: string, max = 200) =>
  z.string({ error: `${field} must be a string` }).max(max, { error: `${field} is longer than ${max} characters` });

const grantTypesError = `grant_types may only contain ${SUPPORTED_GRANT_TYPES.join(', ')}`;
const responseTypesError = `response_types may only contain ${SUPPORTED_RESPONSE_TYPES.join(', ')}`;

export const clientMetadataSchema = z.object({
  redirect_uris: z
    .array(z.string({ error: 'each redirect URI must be a string' }), {
      error: (issue) => (issue.input === undefined ? 'redirect_uris is required' : 'redirect_uris must be a list of URIs'),
    })
    .min(1, { error: 'at least one redirect URI is required' })
    .max(MAX_REDIRECT_URIS, { error: `at most ${MAX_REDIRECT_URIS} redirect URIs may be registered` })
    .superRefine((uris, ctx) => {
      for (const uri of uris) {
        const problem = redirectUriProblem(uri);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }
    })
    .transform(unique),
  // RFC 7591 §2: the default is client_secret_basic.
  token_endpoint_auth_method: z
    .enum(TOKEN_ENDPOINT_AUTH_METHODS, { error: `token_endpoint_auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}` })
    .default('client_secret_basic'),
  grant_types: z
    .array(z.enum(SUPPORTED_GRANT_TYPES, { error: grantTypesError }), { error: grantTypesError })
    .refine((types) => types.includes('authorization_code'), { error: 'grant_types must include authorization_code' })
    .transform(unique)
    .default([...SUPPORTED_GRANT_TYPES]),
  // RFC 7591 §2.1: the authorization_code grant goes with the code response type.
  response_types: z
    .array(z.enum(SUPPORTED_RESPONSE_TYPES, { error: responseTypesError }), { error: responseTypesError })
    .min(1, { error: 'response_types must include code' })
    .transform(unique)
    .default([...SUPPORTED_RESPONSE_TYPES]),
  client_name: z
    .string({ error: 'client_name must be a string' })
    .transform((name) => name.replace(INVISIBLE_CHARACTERS, '').trim())
    .refine((name) => [...name].length <= MAX_CLIENT_NAME_LENGTH, {
      error: `client_name is longer than ${MAX_CLIENT_NAME_LENGTH} characters`,
    })
    .transform((name) => (name === '' ? undefined : name))
    .optional(),
  client_uri: httpsUrl('client_uri').optional(),
  logo_uri: httpsUrl('logo_uri').optional(),
  // RFC 7591 §2: space-separated scopes the client may ask for; offline_access is accepted and dropped.
  scope: shortString('scope', 1000)
    .transform((scope, ctx) => {
      const parsed = parseScope(scope);
      if ('unknown' in parsed) {
        ctx.addIssue({ code: 'custom', message: `unsupported scope: ${parsed.unknown.join(' ')}; supported: wiki:read wiki:write` });
        return z.NEVER;
      }
      const named = scope.split(' ').some((s) => s !== '' && s !== 'offline_access');
      return named ? formatScope(parsed.scopes) : undefined;
    })
    .optional(),
  application_type: z.enum(['web', 'native'], { error: 'application_type must be web or native' }).optional(),
  software_id: shortString('software_id').optional(),
  software_version: shortString('software_version').optional(),
  contacts: z
    .array(shortString('contacts entry', 320), { error: 'contacts must be a list of strings' })
    .max(10, { error: 'at most 10 contacts' })
    .optional(),
});

/** JSON null means "not given" (some clients send it for every field they leave out). */
function withoutNulls(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null));
}

function dropUndefined(metadata: ClientMetadata): ClientMetadata {
  return Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== undefined)) as ClientMetadata;
}

/**
 * RFC 7591 §2, §3.2.2 — validated metadata, or a thrown InvalidRedirectUri / InvalidClientMetadata
 * naming the first problem.
 */
export function parseClientMetadata(input: unknown): ClientMetadata {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidClientMetadata('The client metadata must be a JSON object (Content-Type: application/json).');
  }
  const parsed = clientMetadataSchema.safeParse(withoutNulls(input as Record<string, unknown>));
  if (parsed.success) return dropUndefined(parsed.data);
  const issue = parsed.error.issues[0];
  const field = String(issue?.path[0] ?? 'metadata');
  const message = issue?.message ?? 'invalid client metadata';
  if (field === 'redirect_uris') throw new InvalidRedirectUri(message);
  throw new InvalidClientMetadata(message.startsWith(field) ? message : `${field}: ${message}`);
}
