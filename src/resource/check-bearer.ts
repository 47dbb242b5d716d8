// The protected resource's bearer check (RFC 6750, RFC 9068 §4, RFC 8707): who is calling this
// wiki, with which scopes. Each rule is a named step; each failure is a typed error carrying its
// WWW-Authenticate challenge. Storage: one store read per request (grants.lookupBearer), plus a
// grant touch at most once a minute.
import type { AppContext } from '../context.ts';
import { nowSeconds } from '../db/open.ts';
import { lastSeenDue } from '../lifetimes.ts';
import type { MaybePromise } from '../lib/maybe-promise.ts';
import type { BearerGrant, BearerLookup } from '../oauth/grants/grants.repo.ts';
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

/** RFC 6750 §2.1 b64token. One character class, then `=`s: linear. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const isSpaceOrTab = (code: number): boolean => code === 0x20 || code === 0x09;

/**
 * RFC 6750 §2.1 — `Authorization: Bearer <b64token>`, the scheme case-insensitive (RFC 9110 §11.1),
 * exactly one token. Another scheme counts as no token (RFC 6750 §3.1: no error code then).
 */
export function bearerCredentials(authorization: string | undefined): BearerCredentials {
  const header = authorization?.trim() ?? '';
  if (header === '') return { kind: 'none' };
  // The scheme ends at the first space or tab; the token follows after any number of them.
  let end = 0;
  while (end < header.length && !isSpaceOrTab(header.charCodeAt(end))) end++;
  if (header.slice(0, end).toLowerCase() !== 'bearer') return { kind: 'none' };
  let start = end;
  while (start < header.length && isSpaceOrTab(header.charCodeAt(start))) start++;
  // B64TOKEN has no space or tab: a second word after the token makes it malformed.
  const token = header.slice(start);
  return B64TOKEN.test(token) ? { kind: 'token', token } : { kind: 'malformed' };
}

/** RFC 9068 §4 and RFC 8707 — signature, typ, issuer, expiry, and an audience that is this wiki's MCP URL. */
function verifyTokenForWiki(deps: BearerDeps, token: string, audience: string): AccessTokenClaims | undefined {
  return deps.accessTokens.verify(token, audience);
}

/**
 * RFC 7009 §2.2 / the grant as the unit of revocation — the token's grant must be live, on this wiki
 * and bound to the same resource, user and client, and the token's jti not revoked; revoking the
 * grant or the token takes effect at once. One read (grants.lookupBearer) also tells whether the
 * wiki exists: a deleted wiki is a 404 as before.
 */
function checkGrantLive(found: BearerLookup, slug: string, claims: AccessTokenClaims, metadata: string): { grant: BearerGrant; wikiSlug: string } {
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

/** Records that the grant is in use, at most once a minute; undefined when it is not yet due. */
function touchGrant(deps: BearerDeps, grant: BearerGrant): Promise<void> | undefined {
  // The last-used time is shown on the account page, to the minute (lifetimes.ts).
  return lastSeenDue(grant.lastUsedAt, nowSeconds()) ? deps.store.repos.grants.touch(grant.id) : undefined;
}

/** A token refused before the grant's read: 404 for a wiki that is not there rather than 401 (see checkBearer). */
async function refuseOnWiki(deps: BearerDeps, slug: string, err: InvalidToken): Promise<never> {
  await requireWiki(deps, slug);
  throw err;
}

/** The steps after the grant's read, on its answer. */
function callerFrom(deps: BearerDeps, found: BearerLookup, slug: string, claims: AccessTokenClaims, requiredScope: WikiScope, metadata: string): MaybePromise<Caller> {
  const { grant, wikiSlug } = checkGrantLive(found, slug, claims, metadata);
  const scopes = effectiveScopes(claims, grant);
  checkScope(scopes, requiredScope, metadata);
  const caller: Caller = {
    did: claims.did,
    handle: grant.handle,
    wiki: wikiSlug.toLowerCase(),
    scopes,
    clientId: claims.clientId,
    grantId: grant.id,
    jti: claims.jti,
  };
  const touched = touchGrant(deps, grant);
  return touched === undefined ? caller : touched.then(() => caller);
}

/**
 * Checks the bearer token of a request to wiki `slug` and returns the caller. Throws, or rejects
 * with, WikiNotFound (404) for an unknown wiki, InvalidToken (401) and InsufficientScope (403)
 * otherwise.
 *
 * The unknown wiki wins over every token error. A valid token is checked first, then one read
 * answers wiki, grant and revocation together; a request whose token fails before that read looks
 * the wiki up on its own (requireWiki) to answer 404 rather than 401 for a wiki that is not there.
 *
 * Synchronous (no Promise, no await) when the store reads now (store.lookupBearerNow: SQLite with
 * no transaction open) and no touch is due (touchGrant: once a minute per grant), the usual case;
 * a Promise otherwise, and for a refusal before the grant's read (requireWiki). Take the answer
 * with `settle` (src/lib/maybe-promise.ts) or `await`.
 */
export function checkBearer(deps: BearerDeps, authorization: string | undefined, slug: string, requiredScope: WikiScope): MaybePromise<Caller> {
  const metadata = resourceMetadataUrl(deps.config, slug);
  const credentials = bearerCredentials(authorization);
  if (credentials.kind === 'none') return refuseOnWiki(deps, slug, InvalidToken.missing(metadata));
  if (credentials.kind === 'malformed') {
    // RFC 6750 §3.1 would allow 400 invalid_request; MCP clients re-authorize only on a 401.
    return refuseOnWiki(deps, slug, new InvalidToken(metadata, 'The Authorization header must be Bearer followed by one access token.'));
  }
  const claims = verifyTokenForWiki(deps, credentials.token, wikiMcpUrl(deps.config, slug));
  if (!claims) return refuseOnWiki(deps, slug, new InvalidToken(metadata, 'The access token is invalid, has expired or is not for this wiki.'));
  const now = deps.store.lookupBearerNow(slug, claims.grantId, claims.jti);
  if (now !== undefined) return callerFrom(deps, now, slug, claims, requiredScope, metadata);
  return deps.store.repos.grants.lookupBearer(slug, claims.grantId, claims.jti).then((found) => callerFrom(deps, found, slug, claims, requiredScope, metadata));
}
