// The protected resource's bearer check (RFC 6750, RFC 9068 §4, RFC 8707): who is calling this
// wiki, with which scopes. Each rule is a named step; each failure is a typed error carrying its
// WWW-Authenticate challenge. Storage: one store read per request (grants.lookupBearer), plus a
// grant touch at most once a minute.
import type { AppContext } from '../context.ts';
import { nowSeconds } from '../db/open.ts';
import { LAST_SEEN_RESOLUTION_SECONDS } from '../lifetimes.ts';
import type { BearerGrant } from '../oauth/grants/grants.repo.ts';
import { isWikiScope, type WikiScope } from '../oauth/scopes.ts';
import type { AccessTokenClaims } from '../oauth/tokens/access-token.ts';
import { wikiMcpUrl } from '../wikis/urls.ts';
import { InsufficientScope, InvalidToken } from './errors.ts';
import { resourceMetadataUrl } from './prm.ts';
import { requireWiki, WikiNotFound } from './require-wiki.ts';

export type BearerDeps = Pick<AppContext, 'config' | 'accessTokens' | 'store'>;

/** Who is calling, once the token has passed every check. */
export interface Caller {
  did: string;
  handle: string;
  /** The wiki's slug. */
  wiki: string;
  scopes: WikiScope[];
  clientId: string;
  grantId: string;
  jti: string;
}

export type BearerCredentials = { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; token: string };

/**
 * RFC 6750 §2.1 — `Authorization: Bearer <b64token>`, the scheme case-insensitive (RFC 9110 §11.1),
 * exactly one token. Another scheme counts as no token (RFC 6750 §3.1: no error code then).
 */
export function bearerCredentials(authorization: string | undefined): BearerCredentials {
  const header = authorization?.trim() ?? '';
  if (header === '') return { kind: 'none' };
  const [scheme = '', ...rest] = header.split(/[ \t]+/);
  if (scheme.toLowerCase() !== 'bearer') return { kind: 'none' };
  const token = rest.length === 1 ? rest[0] : undefined;
  return token !== undefined && /^[A-Za-z0-9\-._~+/]+=*$/.test(token) ? { kind: 'token', token } : { kind: 'malformed' };
}

/** RFC 9068 §4 and RFC 8707 — signature, typ, issuer, expiry, and an audience that is this wiki's MCP URL. */
async function verifyTokenForWiki(deps: BearerDeps, token: string, audience: string, metadata: string): Promise<AccessTokenClaims> {
  const claims = await deps.accessTokens.verify(token, audience);
  if (!claims) throw new InvalidToken(metadata, 'The access token is invalid, has expired or is not for this wiki.');
  return claims;
}

/**
 * RFC 7009 §2.2 / the grant as the unit of revocation — the token's grant must be live, on this wiki
 * and bound to the same resource, user and client, and the token's jti not revoked; revoking the
 * grant or the token takes effect at once. One read (grants.lookupBearer) also tells whether the
 * wiki exists: a deleted wiki is a 404 as before.
 */
async function checkGrantLive(deps: BearerDeps, slug: string, claims: AccessTokenClaims, metadata: string): Promise<{ grant: BearerGrant; wikiSlug: string }> {
  const found = await deps.store.repos.grants.lookupBearer(slug, claims.grantId, claims.jti);
  if (found.wiki === 'missing') throw new WikiNotFound(slug);
  const grant = found.grant;
  const matches = grant !== undefined && grant.resource === claims.resource && grant.userDid === claims.did && grant.clientId === claims.clientId;
  if (!matches || found.jtiRevoked) {
    throw new InvalidToken(metadata, 'The access token has been revoked.');
  }
  return { grant, wikiSlug: found.wikiSlug };
}

/** RFC 6750 §3.1 — a token without the scope the request needs gets 403 insufficient_scope. */
function checkScope(scopes: readonly WikiScope[], required: WikiScope, metadata: string): void {
  if (!scopes.includes(required)) throw new InsufficientScope(metadata, required);
}

/** The token's scopes, narrowed to what the grant still allows. */
function effectiveScopes(claims: AccessTokenClaims, grant: BearerGrant): WikiScope[] {
  const granted = new Set(grant.scope.split(' '));
  return claims.scopes.filter((s): s is WikiScope => isWikiScope(s) && granted.has(s));
}

/** Records that the grant is in use, at most once a minute. */
async function touchGrant(deps: BearerDeps, grant: BearerGrant): Promise<void> {
  // The last-used time is shown on the account page, to the minute (lifetimes.ts).
  if (nowSeconds() - grant.lastUsedAt >= LAST_SEEN_RESOLUTION_SECONDS) await deps.store.repos.grants.touch(grant.id);
}

/**
 * Checks the bearer token of a request to wiki `slug` and returns the caller. Throws WikiNotFound
 * (404) for an unknown wiki, InvalidToken (401) and InsufficientScope (403) otherwise.
 *
 * The unknown wiki wins over every token error. A valid token is checked first, then one read
 * answers wiki, grant and revocation together; a request whose token fails before that read looks
 * the wiki up on its own (requireWiki) to answer 404 rather than 401 for a wiki that is not there.
 */
export async function checkBearer(deps: BearerDeps, authorization: string | undefined, slug: string, requiredScope: WikiScope): Promise<Caller> {
  const metadata = resourceMetadataUrl(deps.config, slug);
  const credentials = bearerCredentials(authorization);
  if (credentials.kind === 'none') {
    await requireWiki(deps, slug);
    throw InvalidToken.missing(metadata);
  }
  if (credentials.kind === 'malformed') {
    await requireWiki(deps, slug);
    // RFC 6750 §3.1 would allow 400 invalid_request; MCP clients re-authorize only on a 401.
    throw new InvalidToken(metadata, 'The Authorization header must be Bearer followed by one access token.');
  }
  const claims = await verifyTokenForWiki(deps, credentials.token, wikiMcpUrl(deps.config, slug), metadata).catch(async (err: unknown) => {
    await requireWiki(deps, slug);
    throw err;
  });
  const { grant, wikiSlug } = await checkGrantLive(deps, slug, claims, metadata);
  const scopes = effectiveScopes(claims, grant);
  checkScope(scopes, requiredScope, metadata);
  await touchGrant(deps, grant);
  return {
    did: claims.did,
    handle: grant.handle,
    wiki: wikiSlug.toLowerCase(),
    scopes,
    clientId: claims.clientId,
    grantId: grant.id,
    jti: claims.jti,
  };
}
