// Issue 10 item 5: rate limits keyed by who is asking. All of Claude.ai's server-side traffic comes
// from one address range, so a per-address limit on /token was a global cap shared by every Claude.ai
// user of a deployment (600 a minute). Now a refresh spends its grant's and its client's budgets, and
// the address pays only for requests nobody vouched for (src/web/rate-limits.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';
import { refreshTokenHash } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { registerClient, seedUser, startHardeningApp, type HardeningApp, type Tokens } from '../hardening/support.ts';

/** One of Anthropic's egress addresses (160.79.104.0/21), as Caddy forwards it. */
const SHARED_ADDRESS = '160.79.104.10';
const USERS = 2000;

let app: HardeningApp;
let clientId: string;
let refreshTokens: string[];

beforeAll(async () => {
  // The shipped per-address budget for /token and the shipped keyed budgets; no trusted networks.
  const shipped = parseConfig({});
  app = await startHardeningApp({
    RATE_LIMIT_TOKEN_PER_MINUTE: String(shipped.rateLimits.tokenPerMinute),
    RATE_LIMIT_CLIENT_PER_MINUTE: String(shipped.keyedRateLimits.clientPerMinute),
    RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: String(shipped.keyedRateLimits.refreshPerGrantPerMinute),
  });
  expect(app.ctx.config.rateLimits.tokenPerMinute, 'fewer than the users, so an address key alone would refuse some').toBeLessThan(USERS);
  clientId = (await registerClient(app)).clientId;
  // 2,000 people who each connected Claude to their wiki: one grant and one refresh token each.
  const { ctx } = app;
  refreshTokens = await ctx.store.transaction(async (tx) => {
    const tokens: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const user = await seedUser(tx);
      const grantId = `grant-${i}-${user.username}`;
      await tx.grants.insert({
        id: grantId,
        clientId,
        userDid: user.did,
        wikiSlug: user.username,
        resource: wikiMcpUrl(ctx.config, user.username),
        scope: 'wiki:read wiki:write',
        expiresAt: nowSeconds() + 3600,
      });
      tokens.push(await tx.refreshTokens.insert(grantId, 3600));
    }
    return tokens;
  });
}, 120_000);
afterAll(async () => {
  await app?.close();
});

const refresh = (token: string) =>
  app.http().post('/auth/oauth/token').set('X-Forwarded-For', SHARED_ADDRESS).type('form').send({ grant_type: 'refresh_token', refresh_token: token, client_id: clientId });

/** Runs `tasks` with at most `limit` in flight. */
async function bounded<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

describe('refreshes from one shared address', () => {
  it('2,000 distinct users’ refreshes (one each) within a minute all succeed', async () => {
    const started = Date.now();
    const responses = await bounded(16, refreshTokens.map((t) => () => refresh(t)));
    const statuses = new Map<number, number>();
    for (const r of responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 200: USERS });
    expect(Date.now() - started, 'the whole run fits in the one-minute window').toBeLessThan(60_000);
  }, 120_000);

  it('one client hammering its own grant gets 429 with Retry-After; other users of the client are unaffected', async () => {
    const budget = app.ctx.config.keyedRateLimits.refreshPerGrantPerMinute;
    const [mine, other] = [refreshTokens[0]!, refreshTokens[1]!];
    // Its own grant's tokens were used once above; keep rotating it as fast as it can.
    let latest = mine;
    let refused;
    for (let i = 0; i < budget + 5 && !refused; i++) {
      const res = await refresh(latest);
      if (res.status === 429) refused = res;
      else {
        expect(res.status, res.text).toBe(200);
        latest = (res.body as Tokens).refresh_token;
      }
    }
    expect(refused, 'the grant’s budget ran out').toBeDefined();
    expect(refused!.body.error).toBe('too_many_requests');
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused!.headers['retry-after'])).toBeLessThanOrEqual(60);
    // The same address and the same client, another grant: still served.
    const otherUser = await refresh(other);
    expect(otherUser.status, otherUser.text).not.toBe(429);
  }, 120_000);

  it('a refresh refused for its grant’s budget writes nothing: the token is not rotated and stays usable, no token is issued', async () => {
    // The grant's budget is spent inside the rotation transaction, from the rows it reads
    // (src/oauth/token/token-rate-limits.ts): the 429 must come before any write.
    const budget = app.ctx.config.keyedRateLimits.refreshPerGrantPerMinute;
    let latest = refreshTokens[2]!;
    let refused;
    for (let i = 0; i < budget + 5 && !refused; i++) {
      const res = await refresh(latest);
      if (res.status === 429) refused = res;
      else latest = (res.body as Tokens).refresh_token;
    }
    expect(refused, 'the grant’s budget ran out').toBeDefined();
    const row = await app.ctx.store.repos.refreshTokens.findByHash(refreshTokenHash(latest));
    expect(row?.rotatedAt, 'the presented token was not rotated').toBeNull();
    expect(row?.successorHash).toBeNull();
    const grantId = row!.grantId;
    const count = () => app.sql().count('refresh_tokens', 'grant_id = ?', grantId);
    const before = await count();
    expect((await refresh(latest)).status).toBe(429);
    expect(await count(), 'no successor was inserted').toBe(before);
    expect(await app.ctx.store.repos.grants.findLive(grantId), 'the grant is untouched and live').toBeDefined();
  }, 120_000);
});
