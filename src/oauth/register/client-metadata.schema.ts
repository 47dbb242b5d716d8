// RFC 7591 §2 and §3.2.1, draft-ietf-oauth-client-id-metadata-document §4.1 — the client metadata
// we accept, for registrations (DCR) and client ID metadata documents alike. RFC 7591 §2: the server
// "MAY replace any of the client's requested metadata values"; we narrow what we can and refuse only
// what is unsafe or unusable. The rules, in one place:
//
// Narrowed (the 201 response and the stored client show what was granted):
//  N1. grant_types: values we do not support (jwt-bearer, client_credentials, implicit, …) are
//      dropped; authorization_code must remain, else invalid_client_metadata. Default: both ours.
//  N2. response_types: only "code" is kept; it must remain, else invalid_client_metadata.
//  N3. scope: unknown values (claudeai, openid, email, profile, offline_access) are ignored
//      (RFC 6749 §3.3); when none of ours remains, the client may ask for every scope.
//  N4. Unknown members are ignored; JSON null means "not given".
//  N5. client_uri / logo_uri that are not https URLs, and an unknown application_type, are dropped.
//  N6. token_endpoint_auth_methods_supported (OpenID RP metadata, sent by ChatGPT): the strongest
//      method we support is chosen, private_key_jwt > client_secret_basic > client_secret_post > none
//      (private_key_jwt only with keys); otherwise token_endpoint_auth_method is used as given.
//
// Refused (400 invalid_redirect_uri / invalid_client_metadata; for documents, the document):
//  R1. a redirect URI that is unusable or unsafe (clients/redirect-uri.ts), or a private-use scheme
//      (cursor://…) for a client that is not public (token_endpoint_auth_method none): RFC 8252 §8.4;
//  R2. a token_endpoint_auth_method we cannot verify (client_secret_jwt, tls_client_auth, …);
//  R3. private_key_jwt without keys, with both jwks and jwks_uri (RFC 7591 §2), with a jwks_uri that
//      is not https, with private or symmetric key material, or with a signing alg other than
//      ES256/RS256;
//  R4. for documents only (clients/client-metadata-document.ts): a client secret inside the
//      document, a shared-secret auth method, or a client_id that differs from the document's URL.
//  (A public client can use both grants we support, so `none` never meets a confidential-only grant.)
import { z } from 'zod';
import {
  CLIENT_ASSERTION_ALGORITHMS,
  TOKEN_ENDPOINT_AUTH_METHODS,
  type ClientMetadata,
  type PublicJwk,
  type TokenEndpointAuthMethod,
} from '../clients/client.ts';
import { isPrivateUseSchemeRedirect, redirectUriProblem } from '../clients/redirect-uri.ts';
import { InvalidClientMetadata, InvalidRedirectUri } from '../errors.ts';
import { isWikiScope, SUPPORTED_SCOPES } from '../scopes.ts';

export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
export const SUPPORTED_RESPONSE_TYPES = ['code'] as const;

const MAX_REDIRECT_URIS = 20;
const MAX_CLIENT_NAME_LENGTH = 200;
const MAX_URL_LENGTH = 2000;
const MAX_JWKS_KEYS = 10;

/** N6: strongest first. */
const AUTH_METHOD_PREFERENCE: readonly TokenEndpointAuthMethod[] = ['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'];

/** C0/C1 controls and bidirectional overrides: they could disguise a name on the consent page. */
const INVISIBLE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Members of a private or symmetric JWK (RFC 7518 §6): never accepted from a client. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const PUBLIC_JWK_MEMBERS = ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y', 'n', 'e'] as const;

const unique = <T>(values: T[]): T[] => [...new Set(values)];

function isHttpsUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** N5: an https URL, or dropped. */
const optionalHttpsUrl = z
  .string()
  .max(MAX_URL_LENGTH)
  .refine(isHttpsUrl)
  .optional()
  .catch(undefined);

const shortString = (field: string, max = 200) =>
  z.string({ error: `${field} must be a string` }).max(max, { error: `${field} is longer than ${max} characters` });

const stringList = (field: string) => z.array(z.string({ error: `${field} must be a list of strings` }), { error: `${field} must be a list of strings` });

/** N1 */
const grantTypes = stringList('grant_types')
  .max(20, { error: 'grant_types is too long' })
  .transform((types) => unique(types.filter((t) => (SUPPORTED_GRANT_TYPES as readonly string[]).includes(t))))
  .refine((types) => types.includes('authorization_code'), {
    error: 'grant_types must include authorization_code (the only grant this server issues besides refresh_token)',
  });

/** N2 */
const responseTypes = stringList('response_types')
  .max(20, { error: 'response_types is too long' })
  .transform((types) => unique(types.filter((t) => (SUPPORTED_RESPONSE_TYPES as readonly string[]).includes(t))))
  .refine((types) => types.includes('code'), { error: 'response_types must include code' });

/** N3: the wiki scopes named, or undefined when none of ours is named. */
const scope = shortString('scope', 1000).transform((value) => {
  const named = new Set(value.split(' ').filter(isWikiScope));
  return named.size === 0 ? undefined : SUPPORTED_SCOPES.filter((s) => named.has(s)).join(' ');
});

/** R3: a public key of a kind we can verify with, reduced to its public members. */
const publicJwk = z
  .record(z.string(), z.unknown(), { error: 'each key in jwks must be a JSON object' })
  .superRefine((key, ctx) => {
    if (PRIVATE_JWK_MEMBERS.some((m) => m in key)) {
      ctx.addIssue({ code: 'custom', message: 'jwks must contain public keys only (no private or symmetric key material)' });
    } else if (key.kty !== 'RSA' && key.kty !== 'EC') {
      ctx.addIssue({ code: 'custom', message: 'jwks keys must be RSA or EC keys' });
    }
  })
  .transform((key) => Object.fromEntries(PUBLIC_JWK_MEMBERS.filter((m) => typeof key[m] === 'string').map((m) => [m, key[m]])) as unknown as PublicJwk);

const jwks = z.object(
  {
    keys: z
      .array(publicJwk, { error: 'jwks.keys must be a list of keys' })
      .min(1, { error: 'jwks.keys is empty' })
      .max(MAX_JWKS_KEYS, { error: `jwks holds more than ${MAX_JWKS_KEYS} keys` }),
  },
  { error: 'jwks must be a JSON Web Key Set ({"keys": [...]})' },
);

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
  token_endpoint_auth_method: z.string({ error: 'token_endpoint_auth_method must be a string' }).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional().catch(undefined),
  grant_types: grantTypes.default([...SUPPORTED_GRANT_TYPES]),
  response_types: responseTypes.default([...SUPPORTED_RESPONSE_TYPES]),
  client_name: z
    .string({ error: 'client_name must be a string' })
    .transform((name) => name.replace(INVISIBLE_CHARACTERS, '').trim())
    .refine((name) => [...name].length <= MAX_CLIENT_NAME_LENGTH, {
      error: `client_name is longer than ${MAX_CLIENT_NAME_LENGTH} characters`,
    })
    .transform((name) => (name === '' ? undefined : name))
    .optional(),
  client_uri: optionalHttpsUrl,
  logo_uri: optionalHttpsUrl,
  scope: scope.optional(),
  application_type: z.enum(['web', 'native']).optional().catch(undefined),
  software_id: shortString('software_id').optional(),
  software_version: shortString('software_version').optional(),
  contacts: z
    .array(shortString('contacts entry', 320), { error: 'contacts must be a list of strings' })
    .max(10, { error: 'at most 10 contacts' })
    .optional(),
  jwks_uri: z
    .string({ error: 'jwks_uri must be a string' })
    .max(MAX_URL_LENGTH, { error: `jwks_uri is longer than ${MAX_URL_LENGTH} characters` })
    .refine(isHttpsUrl, { error: 'jwks_uri must be an https URL' })
    .optional(),
  jwks: jwks.optional(),
  token_endpoint_auth_signing_alg: z.string({ error: 'token_endpoint_auth_signing_alg must be a string' }).optional(),
});

type ParsedFields = z.infer<typeof clientMetadataSchema>;

/** Where the metadata comes from: a registration request or a client ID metadata document. */
export type MetadataSource = 'registration' | 'document';

/** R4: a document is public, so only methods without a shared secret. */
const METHODS_BY_SOURCE: Record<MetadataSource, readonly TokenEndpointAuthMethod[]> = {
  registration: TOKEN_ENDPOINT_AUTH_METHODS,
  document: ['none', 'private_key_jwt'],
};

const isAuthMethod = (m: string): m is TokenEndpointAuthMethod => (TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(m);

/** N6, R2, R3 — the method this client will use at the token endpoint. */
function chooseAuthMethod(fields: ParsedFields, source: MetadataSource): TokenEndpointAuthMethod {
  const allowed = METHODS_BY_SOURCE[source];
  const hasKeys = fields.jwks_uri !== undefined || fields.jwks !== undefined;
  const offered = fields.token_endpoint_auth_methods_supported;
  if (offered !== undefined) {
    const usable = AUTH_METHOD_PREFERENCE.find(
      (m) => offered.includes(m) && allowed.includes(m) && (m !== 'private_key_jwt' || hasKeys),
    );
    if (usable) return usable;
  }
  // RFC 7591 §2: the default is client_secret_basic; a document cannot hold a secret, so none there.
  const declared = fields.token_endpoint_auth_method ?? (source === 'document' ? 'none' : 'client_secret_basic');
  if (!isAuthMethod(declared)) {
    throw new InvalidClientMetadata(
      `token_endpoint_auth_method "${declared}" is not supported; use one of ${allowed.join(', ')}`,
    );
  }
  if (!allowed.includes(declared)) {
    throw new InvalidClientMetadata(`token_endpoint_auth_method "${declared}" needs a shared secret, which a public metadata document cannot hold; use none or private_key_jwt`);
  }
  if (declared === 'private_key_jwt' && !hasKeys) {
    throw new InvalidClientMetadata('token_endpoint_auth_method private_key_jwt needs the client\'s public keys (jwks_uri or jwks)');
  }
  return declared;
}

/** JSON null means "not given" (some clients send it for every field they leave out). */
function withoutNulls(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null));
}

function dropUndefined(metadata: ClientMetadata): ClientMetadata {
  return Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== undefined)) as ClientMetadata;
}

function toMetadata(fields: ParsedFields, source: MetadataSource): ClientMetadata {
  const method = chooseAuthMethod(fields, source);
  // R1: a private-use scheme can be claimed by any app on the device; only PKCE protects the code,
  // so only public native clients may use one (RFC 8252 §7.1, §8.4).
  const privateUse = fields.redirect_uris.find(isPrivateUseSchemeRedirect);
  if (privateUse !== undefined && method !== 'none') {
    throw new InvalidRedirectUri(
      `"${privateUse}" uses a private-use scheme, which only public native clients (token_endpoint_auth_method none) may register`,
    );
  }
  const keyed = method === 'private_key_jwt';
  if (keyed) {
    if (fields.jwks_uri !== undefined && fields.jwks !== undefined) {
      throw new InvalidClientMetadata('jwks_uri and jwks must not both be given (RFC 7591 §2)');
    }
    const alg = fields.token_endpoint_auth_signing_alg;
    if (alg !== undefined && !(CLIENT_ASSERTION_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new InvalidClientMetadata(`token_endpoint_auth_signing_alg "${alg}" is not supported; use ${CLIENT_ASSERTION_ALGORITHMS.join(' or ')}`);
    }
  }
  return dropUndefined({
    redirect_uris: fields.redirect_uris,
    token_endpoint_auth_method: method,
    grant_types: fields.grant_types,
    response_types: fields.response_types,
    client_name: fields.client_name,
    client_uri: fields.client_uri,
    logo_uri: fields.logo_uri,
    scope: fields.scope,
    application_type: fields.application_type,
    software_id: fields.software_id,
    software_version: fields.software_version,
    contacts: fields.contacts,
    // Keys matter only to a private_key_jwt client: the others never use them.
    jwks_uri: keyed ? fields.jwks_uri : undefined,
    jwks: keyed ? fields.jwks : undefined,
    token_endpoint_auth_signing_alg: keyed ? (fields.token_endpoint_auth_signing_alg as ClientMetadata['token_endpoint_auth_signing_alg']) : undefined,
  });
}

/**
 * RFC 7591 §2, §3.2.2 — the narrowed metadata, or a thrown InvalidRedirectUri /
 * InvalidClientMetadata naming the first problem.
 */
export function parseClientMetadata(input: unknown, source: MetadataSource = 'registration'): ClientMetadata {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidClientMetadata('The client metadata must be a JSON object (Content-Type: application/json).');
  }
  const parsed = clientMetadataSchema.safeParse(withoutNulls(input as Record<string, unknown>));
  if (parsed.success) return toMetadata(parsed.data, source);
  const issue = parsed.error.issues[0];
  const field = String(issue?.path[0] ?? 'metadata');
  const message = issue?.message ?? 'invalid client metadata';
  if (field === 'redirect_uris') throw new InvalidRedirectUri(message);
  throw new InvalidClientMetadata(message.startsWith(field) ? message : `${field}: ${message}`);
}
