// Rule 1 of src/oauth/token/refresh-rotation.ts, with lifetimes.ts grantExpiryAtRotation: each use of
// a refresh token slides its grant's expiry past the new token's, and the grant row is written only
// when it would not outlive the new token (so a client refreshing several times a minute writes its
// grant at most once a minute, as a bearer check writes last_used_at). Over HTTP, on the whole app.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../../src/db/open.ts';
import { LAST_SEEN_RESOLUTION_SECONDS } from '../../../src/lifetimes.ts';
import { sha256Hex } from '../../../src/lib/secrets.ts';
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
  Number((await app.sql().get<{ expires_at: number }>('SELECT expires_at FROM refresh_tokens WHERE hash = ?', sha256Hex(value)))?.expires_at);

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
