// Rule 1 of src/oauth/token/refresh-rotation.ts, with lifetimes.ts grantExpiryAtRotation: each use of
// a refresh token slides its grant's expiry past the new token's, and the grant row is written only
// when it would not outlive the new token (so a client refreshing several times a minute writes its
// grant at most once a minute, as a bearer check writes last_used_at). And the time-ordered form of
// refresh token values and their stored keys, with tokens of the former form. Over HTTP, on the whole app.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../../src/db/open.ts';
import { randomToken, sha256Hex } from '../../../src/lib/secrets.ts';
import { LAST_SEEN_RESOLUTION_SECONDS } from '../../../src/lifetimes.ts';
import { refreshTokenHash } from '../../../src/oauth/token/refresh-tokens.repo.ts';
import { connectClient, grantIdOf, refreshSucceeds, seedUser, signedInBrowser, startHardeningApp, type HardeningApp, type Tokens } from '../../hardening/support.ts';

let app: HardeningApp;
beforeAll(async () => {
  app = await startHardeningApp();
});
afterAll(async () => {
  await app?.close();
});


type GrantRow = { expires_at: number; last_used_at: number };
const grantRow = async (id: string): Promise<GrantRow> => {
  const row = await app.sql().get<GrantRow>('SELECT expires_at, last_used_at FROM oauth_grants WHERE id = ?', id);
  if (!row) throw new Error(`no grant ${id}`);
  return { expires_at: Number(row.expires_at), last_used_at: Number(row.last_used_at) };
};
const tokenExpiry = async (value: string): Promise<number> =>
  Number((await app.sql().get<{ expires_at: number }>('SELECT expires_at FROM refresh_tokens WHERE hash = ?', refreshTokenHash(value)))?.expires_at);

const refreshOk = (clientId: string, token: string): Promise<Tokens> => refreshSucceeds(app, clientId, token);

describe('the grant’s sliding expiry at rotation', () => {
  it('outlives the newest refresh token, and is written only when it would not', async () => {
    const user = await seedUser(app.ctx);
    const { client, tokens } = await connectClient(app, await signedInBrowser(app, user));
    const grantId = grantIdOf(tokens.access_token);

    // A rotation past the grant's expiry extends it beyond the new token, by the write resolution.
    await app.sql().run('UPDATE oauth_grants SET expires_at = ?, last_used_at = 1000 WHERE id = ?', nowSeconds() + 60, grantId);
    const first = await refreshOk(client.clientId, tokens.refresh_token);
    const firstExpiry = await tokenExpiry(first.refresh_token);
    const extended = await grantRow(grantId);
    expect(extended.expires_at).toBeGreaterThanOrEqual(firstExpiry + LAST_SEEN_RESOLUTION_SECONDS);
    expect(extended.expires_at).toBeLessThanOrEqual(nowSeconds() + app.ctx.config.refreshTokenTtlSeconds + LAST_SEEN_RESOLUTION_SECONDS);
    expect(extended.last_used_at).toBeGreaterThan(1000);

    // A grant that already outlives the next token is not written (before: every rotation wrote it).
    await app.sql().run('UPDATE oauth_grants SET last_used_at = 1000 WHERE id = ?', grantId);
    const second = await refreshOk(client.clientId, first.refresh_token);
    expect(await grantRow(grantId)).toEqual({ expires_at: extended.expires_at, last_used_at: 1000 });
    expect(await tokenExpiry(second.refresh_token)).toBeLessThanOrEqual(extended.expires_at);

    // One second short of the next token: written again.
    await app.sql().run('UPDATE oauth_grants SET expires_at = ? WHERE id = ?', nowSeconds() + app.ctx.config.refreshTokenTtlSeconds - 1, grantId);
    const third = await refreshOk(client.clientId, second.refresh_token);
    const again = await grantRow(grantId);
    expect(again.expires_at).toBeGreaterThanOrEqual((await tokenExpiry(third.refresh_token)) + LAST_SEEN_RESOLUTION_SECONDS);
    expect(again.last_used_at).toBeGreaterThan(1000);
  });
});

describe('refresh token values and their stored keys (refresh-tokens.repo.ts)', () => {
  it('are time-ordered: keys of tokens issued one after another sort in that order, behind their creation time', async () => {
    const user = await seedUser(app.ctx);
    const { client, tokens } = await connectClient(app, await signedInBrowser(app, user));
    const values = [tokens.refresh_token];
    for (let i = 0; i < 5; i++) values.push((await refreshSucceeds(app, client.clientId, values.at(-1)!)).refresh_token);
    for (const value of values) {
      expect(value).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
      expect(Math.abs(parseInt(value.slice(0, 12), 16) - Date.now())).toBeLessThan(60_000);
      expect(refreshTokenHash(value)).toBe(value.slice(0, 12) + sha256Hex(value));
      expect(await app.sql().count('refresh_tokens', 'hash = ?', refreshTokenHash(value))).toBe(1);
    }
    // Issued in this order, stored in this order: each issuance lands at the right edge of the primary key.
    const keys = values.map(refreshTokenHash);
    expect([...keys].sort()).toEqual(keys);
  });

  it('a token issued before the time-ordered form (stored under its bare SHA-256) still refreshes', async () => {
    const user = await seedUser(app.ctx);
    const { client, tokens } = await connectClient(app, await signedInBrowser(app, user));
    const grantId = grantIdOf(tokens.access_token);
    const old = randomToken(32); // the former value: 256 random bits, base64url, no time
    expect(refreshTokenHash(old)).toBe(sha256Hex(old));
    await app.sql().run('DELETE FROM refresh_tokens WHERE grant_id = ?', grantId);
    await app.sql().run('INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)', sha256Hex(old), grantId, nowSeconds(), nowSeconds() + 3600);
    const next = await refreshSucceeds(app, client.clientId, old);
    expect(next.refresh_token).toMatch(/^[0-9a-f]{12}/);
    // Within the grace window it gets the same successor again (made again from its value).
    expect((await refreshSucceeds(app, client.clientId, old)).refresh_token).toBe(next.refresh_token);
    // Rotated like any other: a replay after the grace window still revokes the grant.
    expect(await app.sql().count('refresh_tokens', 'hash = ? AND rotated_at IS NOT NULL AND successor_hash = ?', sha256Hex(old), refreshTokenHash(next.refresh_token))).toBe(1);
  });

  it('any other string is hashed whole and finds nothing', () => {
    const odd = '0123456789ab' + 'x'.repeat(42) + '!';
    expect(refreshTokenHash(odd)).toBe(sha256Hex(odd));
    expect(refreshTokenHash('')).toBe(sha256Hex(''));
  });
});
