// OAuth 2.1 §4.1.3: exchange a code. The code must be unexpired, unused, for this client and
// redirect URI, with a matching PKCE verifier and resource. A second use fails and revokes what
// the first use issued (RFC 6749 §10.5, RFC 9700 §4.5).
// It runs in one store transaction (src/storage/store.ts) that returns an outcome: the deciding read
// locks the code's row (findByValueForUpdate), so a concurrent exchange or replay of the same code,
// on any instance, waits and then sees it consumed. Errors are thrown, and the replay's log line,
// audit announcement and metrics written, after commit; the one error thrown inside is a lost
// compare-and-swap on the code, which must roll back the grant inserted before it.
import type { AppContext } from '../../../context.ts';
import type { Config } from '../../../config/env.ts';
import type { AuditEvent } from '../../../audit/audit-log.ts';
import { nowSeconds } from '../../../db/open.ts';
import { newGrantId } from '../../grants/grant-id.ts';
import type { Repositories } from '../../../storage/store.ts';
import { AppError } from '../../../web/errors.ts';
import type { AuthorizationCode } from '../../authorize/codes.repo.ts';
import type { OAuthClientRecord } from '../../clients/client.ts';
import { InvalidGrant } from '../../errors.ts';
import { checkPkce } from '../pkce.ts';
import { attributeAsker } from '../refresh-rotation.ts';
import { checkResourceMatches } from '../resource-param.ts';
import { buildTokenResponse, type TokenResponse, type TokenResponseDeps } from '../token-response.ts';
import type { TokenParams } from '../token-params.ts';
import type { TokenRequestOrigin } from '../token-rate-limits.ts';
import { lastSeenDue, refreshTokenLifetime } from '../../../lifetimes.ts';

export type CodeExchangeDeps = Pick<AppContext, 'store' | 'audit' | 'metrics' | 'log'> &
  TokenResponseDeps & { config: Pick<Config, 'refreshTokenTtlSeconds'> };

type ExchangeOutcome =
  | { kind: 'refused'; error: AppError }
  | { kind: 'replayed'; replayed: AuthorizationCode; audit: { event: AuditEvent; stored: boolean }[] }
  | { kind: 'issued'; grant: { id: string; userDid: string; resource: string; clientId: string }; refreshToken: string; scope: string };

export async function exchangeAuthorizationCode(
  ctx: CodeExchangeDeps,
  client: OAuthClientRecord,
  params: TokenParams,
  origin: TokenRequestOrigin = {},
): Promise<TokenResponse> {
  const value = params.required('code');
  const outcome = await ctx.store.transaction((tx) => exchange(ctx, tx, client, params, value, origin));
  if (outcome.kind === 'refused') throw outcome.error;
  if (outcome.kind === 'replayed') {
    const { replayed } = outcome;
    for (const { event, stored } of outcome.audit) ctx.audit.announce(event, stored);
    ctx.metrics.codeReplay();
    if (replayed.grantId) ctx.metrics.grantRevoked('replay');
    ctx.log.warn({ clientId: replayed.clientId, grantId: replayed.grantId }, 'authorization code replayed; grant revoked');
    throw new InvalidGrant('The authorization code was already used.');
  }
  return buildTokenResponse(ctx, outcome.grant, outcome.scope, outcome.refreshToken);
}

const refused = (message: string): ExchangeOutcome => ({ kind: 'refused', error: new InvalidGrant(message) });

/** PKCE and resource (they throw their own errors), as an outcome. */
function checkBinding(params: TokenParams, code: AuthorizationCode): AppError | undefined {
  try {
    checkPkce(params.optional('code_verifier'), code.codeChallenge);
    checkResourceMatches(params.optional('resource'), code.resource);
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

async function exchange(
  ctx: CodeExchangeDeps,
  tx: Repositories,
  client: OAuthClientRecord,
  params: TokenParams,
  value: string,
  origin: TokenRequestOrigin,
): Promise<ExchangeOutcome> {
  const code = await tx.codes.findByValueForUpdate(value);
  if (!code) return refused('The authorization code is invalid.');
  if (code.consumedAt !== null) {
    // Returned, not thrown: a throw would roll the revocation back with the transaction.
    if (code.grantId) await tx.grants.revoke(code.grantId);
    // In the same transaction as the revocation (src/audit/audit-log.ts).
    const who = { did: code.userDid, clientId: code.clientId, wikiSlug: code.wikiSlug, address: origin.address };
    const events: AuditEvent[] = [{ event: 'code_replay_detected', ...who, actor: 'replay' }];
    if (code.grantId) events.push({ event: 'grant_revoked', ...who, actor: 'replay', detail: { reason: 'code_replay' } });
    const audit = [];
    for (const event of events) audit.push({ event, stored: await ctx.audit.insertIn(tx, event) });
    return { kind: 'replayed', replayed: code, audit };
  }
  if (code.expiresAt <= nowSeconds()) return refused('The authorization code has expired.');
  if (code.clientId !== client.clientId) return refused('The authorization code was issued to another client.');
  const redirectUri = params.optional('redirect_uri');
  if (redirectUri !== undefined ? redirectUri !== code.redirectUri : code.redirectUriSent) {
    return refused('redirect_uri does not match the authorization request.');
  }
  const unbound = checkBinding(params, code);
  if (unbound) return { kind: 'refused', error: unbound };
  // The code checked out: the client's budget pays (a 429 is returned: nothing has been written yet).
  // Every failure above pays the address (src/oauth/token/token-rate-limits.ts).
  const limited = attributeAsker(origin, { clientId: client.clientId, proven: true });
  if (limited) return { kind: 'refused', error: limited };
  const grantId = newGrantId();
  const expiresAt = nowSeconds() + refreshTokenLifetime(ctx.config);
  await tx.grants.insert({
    id: grantId,
    clientId: client.clientId,
    userDid: code.userDid,
    wikiSlug: code.wikiSlug,
    resource: code.resource,
    scope: code.scope,
    expiresAt,
  });
  // The code is consumed and bound to the grant in one statement. Under the row lock this cannot
  // lose; the compare-and-swap stays as the guarantee, and a loss is thrown so that the grant
  // inserted above is rolled back with it (a returned refusal would commit it).
  if (!(await tx.codes.consume(code.hash, grantId))) throw new InvalidGrant('The authorization code was already used.');
  // The client's first token and last use (to the minute): no statement at all when the record
  // read for this request already says both are recorded (lifetimes.ts).
  if (client.firstTokenAt === null || lastSeenDue(client.lastUsedAt, nowSeconds())) await tx.clients.markTokenIssued(client.clientId);
  const refreshToken = await tx.refreshTokens.insert(grantId, refreshTokenLifetime(ctx.config));
  return { kind: 'issued', grant: { id: grantId, userDid: code.userDid, resource: code.resource, clientId: client.clientId }, refreshToken, scope: code.scope };
}
