// OAuth 2.1 §4.1.3: exchange a code. The code must be unexpired, unused, for this client and
// redirect URI, with a matching PKCE verifier and resource. A second use fails and revokes what
// the first use issued (RFC 6749 §10.5, RFC 9700 §4.5).
import type { AppContext } from '../../../context.ts';
import type { Config } from '../../../config/env.ts';
import { nowSeconds, type Db } from '../../../db/open.ts';
import { randomToken } from '../../../lib/secrets.ts';
import type { AuthorizationCode } from '../../authorize/codes.repo.ts';
import type { OAuthClientRecord } from '../../clients/client.ts';
import { InvalidGrant } from '../../errors.ts';
import { checkPkce } from '../pkce.ts';
import { checkResourceMatches } from '../resource-param.ts';
import { buildTokenResponse, type TokenResponse, type TokenResponseDeps } from '../token-response.ts';
import type { TokenParams } from '../token-params.ts';
import type { TokenRequestOrigin } from '../token-rate-limits.ts';
import { refreshTokenLifetime } from '../../../lifetimes.ts';

export type CodeExchangeDeps = Pick<AppContext, 'db' | 'codes' | 'grants' | 'clients' | 'refreshTokens' | 'audit' | 'metrics' | 'log'> &
  TokenResponseDeps & { config: Pick<Config, 'refreshTokenTtlSeconds'> };

type Exchange = (ctx: CodeExchangeDeps, client: OAuthClientRecord, params: TokenParams, value: string, origin: TokenRequestOrigin) => ExchangeOutcome;
type ExchangeOutcome =
  | { kind: 'replayed'; replayed: AuthorizationCode }
  | { kind: 'issued'; grant: { id: string; userDid: string; resource: string; clientId: string }; refreshToken: string; scope: string };

/** One transaction function per database, built once (db.transaction wraps on every call otherwise). */
const exchanges = new WeakMap<Db, { immediate: Exchange }>();

export async function exchangeAuthorizationCode(
  ctx: CodeExchangeDeps,
  client: OAuthClientRecord,
  params: TokenParams,
  origin: TokenRequestOrigin = {},
): Promise<TokenResponse> {
  const value = params.required('code');
  let tx = exchanges.get(ctx.db);
  if (tx === undefined) {
    tx = ctx.db.transaction(exchange);
    exchanges.set(ctx.db, tx);
  }
  const outcome = tx.immediate(ctx, client, params, value, origin);
  if (outcome.kind === 'replayed') {
    ctx.log.warn({ clientId: outcome.replayed.clientId, grantId: outcome.replayed.grantId }, 'authorization code replayed; grant revoked');
    throw new InvalidGrant('The authorization code was already used.');
  }
  return buildTokenResponse(ctx, outcome.grant, outcome.scope, outcome.refreshToken);
}

const exchange: Exchange = (ctx, client, params, value, origin) => {
  const code = ctx.codes.findByValue(value);
  if (!code) throw new InvalidGrant('The authorization code is invalid.');
  // A known code of this client, used or not, spends the client's budget (may throw 429: nothing
  // has been written yet).
  if (code.clientId === client.clientId) origin.attribute?.({ clientId: client.clientId });
  if (code.consumedAt !== null) {
    // Returned, not thrown: a throw would roll the revocation back with the transaction.
    if (code.grantId) ctx.grants.revoke(code.grantId);
    // In the same transaction as the revocation (src/audit/audit-log.ts).
    const who = { did: code.userDid, clientId: code.clientId, wikiSlug: code.wikiSlug, address: origin.address };
    ctx.audit.record({ event: 'code_replay_detected', ...who, actor: 'replay' });
    if (code.grantId) ctx.audit.record({ event: 'grant_revoked', ...who, actor: 'replay', detail: { reason: 'code_replay' } });
    ctx.metrics.codeReplay();
    if (code.grantId) ctx.metrics.grantRevoked('replay');
    return { kind: 'replayed', replayed: code };
  }
  if (code.expiresAt <= nowSeconds()) throw new InvalidGrant('The authorization code has expired.');
  if (code.clientId !== client.clientId) throw new InvalidGrant('The authorization code was issued to another client.');
  const redirectUri = params.optional('redirect_uri');
  if (redirectUri !== undefined ? redirectUri !== code.redirectUri : code.redirectUriSent) {
    throw new InvalidGrant('redirect_uri does not match the authorization request.');
  }
  checkPkce(params.optional('code_verifier'), code.codeChallenge);
  checkResourceMatches(params.optional('resource'), code.resource);
  if (!ctx.codes.consume(code.hash)) throw new InvalidGrant('The authorization code was already used.');

  const grantId = randomToken(16);
  const expiresAt = nowSeconds() + refreshTokenLifetime(ctx.config);
  ctx.grants.insert({
    id: grantId,
    clientId: client.clientId,
    userDid: code.userDid,
    wikiSlug: code.wikiSlug,
    resource: code.resource,
    scope: code.scope,
    expiresAt,
  });
  ctx.codes.recordGrant(code.hash, grantId);
  ctx.clients.markTokenIssued(client.clientId);
  const refreshToken = ctx.refreshTokens.insert(grantId, refreshTokenLifetime(ctx.config));
  return { kind: 'issued', grant: { id: grantId, userDid: code.userDid, resource: code.resource, clientId: client.clientId }, refreshToken, scope: code.scope };
};
