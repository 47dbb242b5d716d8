// RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID Connect Core §9 (private_key_jwt) — a client that
// registered private_key_jwt authenticates at /token and /revoke with a JWT it signed:
//   client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer, client_assertion=<JWT>
// Rules enforced here:
//  - alg ES256 or RS256 only (never none, never HS*), and the client's token_endpoint_auth_signing_alg
//    when it declared one; the key comes from its jwks (inline) or jwks_uri (clients/client-jwks.ts;
//    an unknown kid triggers one rate-limited refetch);
//  - iss = sub = client_id (and = the client_id body parameter when sent);
//  - aud names this server: the issuer or the token endpoint URL (a string, or an array holding one);
//  - exp required and at most 5 minutes ahead; iat/nbf not in the future; 30 s of clock skew;
//  - jti required and usable once: recorded until exp in client_assertion_jtis (the store's atomic insert).
// Any failure is 401 invalid_client (RFC 6749 §5.2).
import type { PostedRequest } from './client-post.ts';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet } from 'jose';
import type { AppContext } from '../../context.ts';
import type { Config } from '../../config/env.ts';
import type { Store } from '../../storage/store.ts';
import { nowSeconds } from '../../db/open.ts';
import { sha256Hex } from '../../lib/secrets.ts';
import { CLIENT_ASSERTION_ALGORITHMS, type OAuthClientRecord } from '../clients/client.ts';
import { createClientJwks, type ClientJwks } from '../clients/client-jwks.ts';
import type { SafeFetchOptions } from '../../lib/outbound/safe-fetch.ts';
import { InvalidClient } from '../errors.ts';
import { OAUTH_PATHS } from '../paths.ts';
import { ASSERTION_CLOCK_SKEW_SECONDS, assertionJtiKeptUntil, MAX_ASSERTION_LIFETIME_SECONDS } from '../../lifetimes.ts';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_ASSERTION_LENGTH = 8 * 1024;
const MAX_JTI_LENGTH = 256;

export interface ClientAssertionVerifier {
  /** Verifies `assertion` for `client` (already resolved from its iss/sub) and consumes its jti. */
  verify(client: OAuthClientRecord, assertion: string): Promise<void>;
}

/** Whether the request carries a client assertion (and so must be authenticated by one). */
export function hasClientAssertion(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return b.client_assertion !== undefined || b.client_assertion_type !== undefined;
}

/** The client_id an assertion claims (its sub, which must equal iss), read before verification. */
export function assertionClientId(assertion: string): string {
  if (assertion.length > MAX_ASSERTION_LENGTH) throw new InvalidClient('The client assertion is too long.');
  let claims;
  try {
    claims = decodeJwt(assertion);
  } catch {
    throw new InvalidClient('The client assertion is not a JWT.');
  }
  if (typeof claims.sub !== 'string' || claims.sub === '' || claims.iss !== claims.sub) {
    throw new InvalidClient('The client assertion must have iss and sub both equal to the client_id.');
  }
  return claims.sub;
}

/** Reads client_assertion_type / client_assertion from the body; one method per request. */
export function readClientAssertion(req: Pick<PostedRequest, 'body' | 'get'>): { assertion: string; bodyClientId: string | undefined } {
  const body = req.body as Record<string, unknown>;
  const type = body.client_assertion_type;
  const assertion = body.client_assertion;
  if (typeof type !== 'string' || typeof assertion !== 'string') {
    throw new InvalidClient('client_assertion_type and client_assertion must both be given, once each.');
  }
  if (type !== CLIENT_ASSERTION_TYPE) throw new InvalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}.`);
  if (req.get('authorization') !== undefined && /^basic\b/i.test(req.get('authorization') ?? '')) {
    throw new InvalidClient('The client authenticated with both HTTP Basic and a client assertion; use one method.');
  }
  if (body.client_secret !== undefined) throw new InvalidClient('The client sent both client_secret and a client assertion; use one method.');
  const bodyClientId = body.client_id;
  if (bodyClientId !== undefined && typeof bodyClientId !== 'string') throw new InvalidClient('client_id must be given once.');
  return { assertion, bodyClientId };
}

export interface ClientAssertionDeps {
  store: Pick<Store, 'repos'>;
  config: Pick<Config, 'publicUrl'>;
  jwks: ClientJwks;
}

export function createClientAssertionVerifier({ store, config, jwks }: ClientAssertionDeps): ClientAssertionVerifier {
  const audiences = [config.publicUrl, `${config.publicUrl}${OAUTH_PATHS.token}`];

  async function verifySignature(client: OAuthClientRecord, assertion: string) {
    const { metadata } = client;
    const algorithms = metadata.token_endpoint_auth_signing_alg ? [metadata.token_endpoint_auth_signing_alg] : [...CLIENT_ASSERTION_ALGORITHMS];
    const options = {
      algorithms,
      issuer: client.clientId,
      subject: client.clientId,
      audience: audiences,
      clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'jti'],
    };
    if (metadata.jwks) return jwtVerify(assertion, createLocalJWKSet(metadata.jwks as JSONWebKeySet), options);
    const uri = metadata.jwks_uri;
    if (!uri) throw new InvalidClient('This client registered private_key_jwt without keys.');
    try {
      return await jwtVerify(assertion, createLocalJWKSet((await jwks.keysFor(uri)) as JSONWebKeySet), options);
    } catch (err) {
      // A key rotated since we cached the set: fetch it once more (rate-limited) and retry.
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      return jwtVerify(assertion, createLocalJWKSet((await jwks.keysFor(uri, true)) as JSONWebKeySet), options);
    }
  }

  return {
    async verify(client, assertion) {
      let header;
      try {
        header = decodeProtectedHeader(assertion);
      } catch {
        throw new InvalidClient('The client assertion is not a JWT.');
      }
      if (!(CLIENT_ASSERTION_ALGORITHMS as readonly string[]).includes(String(header.alg))) {
        throw new InvalidClient(`The client assertion is signed with ${String(header.alg)}; only ${CLIENT_ASSERTION_ALGORITHMS.join(' and ')} are accepted.`);
      }
      let payload;
      try {
        ({ payload } = await verifySignature(client, assertion));
      } catch (err) {
        if (err instanceof InvalidClient) throw err;
        if (err instanceof joseErrors.JOSEError) {
          throw new InvalidClient(`The client assertion was refused (${err.code}: ${err.message}).`, { cause: err });
        }
        // The JWKS could not be fetched: the client cannot be authenticated now.
        throw new InvalidClient(`The client's keys could not be fetched from its jwks_uri (${(err as Error).message}).`, { cause: err });
      }
      const now = nowSeconds();
      const exp = payload.exp ?? 0;
      if (exp - now > MAX_ASSERTION_LIFETIME_SECONDS + ASSERTION_CLOCK_SKEW_SECONDS) {
        throw new InvalidClient(`The client assertion expires too far ahead; exp must be within ${MAX_ASSERTION_LIFETIME_SECONDS} seconds.`);
      }
      if (payload.iat !== undefined && payload.iat > now + ASSERTION_CLOCK_SKEW_SECONDS) {
        throw new InvalidClient('The client assertion was issued in the future (iat).');
      }
      const jti = payload.jti;
      if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) {
        throw new InvalidClient(`The client assertion needs a jti of 1 to ${MAX_JTI_LENGTH} characters.`);
      }
      // RFC 7523 §3 item 7: once only. The primary key makes a concurrent second use lose, on any instance.
      if (!(await store.repos.clientAssertionJtis.use(client.clientId, sha256Hex(jti), assertionJtiKeptUntil(exp)))) {
        throw new InvalidClient('This client assertion was already used (jti replay).');
      }
    },
  };
}

/** RFC 7523 §2.2 — a client that sent client_assertion: private_key_jwt and nothing else. */
export async function authenticateByAssertion(ctx: Pick<AppContext, 'clientResolver' | 'clientAssertions'>, req: Pick<PostedRequest, 'body' | 'get'>): Promise<OAuthClientRecord> {
  const { assertion, bodyClientId } = readClientAssertion(req);
  const clientId = assertionClientId(assertion);
  if (bodyClientId !== undefined && bodyClientId !== clientId) {
    throw new InvalidClient('client_id in the body is not the client the assertion names (iss/sub).');
  }
  const client = await ctx.clientResolver.resolve(clientId);
  if (!client) throw new InvalidClient('This client is not registered here (or no longer). Register again.');
  if (client.metadata.token_endpoint_auth_method !== 'private_key_jwt') {
    throw new InvalidClient(
      `This client registered token_endpoint_auth_method ${client.metadata.token_endpoint_auth_method} but authenticated with private_key_jwt.`,
    );
  }
  await ctx.clientAssertions.verify(client, assertion);
  return client;
}

/** Builds the verifier from the context's pieces (the JWKS cache shares the document fetch limits). */
export function clientAssertionVerifierFor(
  deps: Pick<AppContext, 'store' | 'config'>,
  fetchOptions: SafeFetchOptions,
): ClientAssertionVerifier {
  return createClientAssertionVerifier({ store: deps.store, config: deps.config, jwks: createClientJwks({ fetchOptions }) });
}
