// Finding (round 3 review): anyone could use up a shared public client's /token budget, and so lock
// out every other user of that client (Claude Code, or Claude.ai's metadata-document client). The
// client's budget was charged as soon as a code or refresh token was found: the attacker approves
// their own authorization, then sends their own code with a wrong PKCE verifier again and again
// (nothing is consumed, the code stays findable), or their own revoked refresh token, or revokes it
// again and again. Now the client pays only for requests that prove possession; the rest pay the
// address (src/oauth/token/token-rate-limits.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHardeningApp, type HardeningApp } from '../hardening/support.ts';
import { exchangeCode, obtainCode, refresh, registerClaudeCode, revoke, tokenRequest, type RegisteredClient } from '../support/oauth-flow.ts';
import { seedPerson, type Person } from '../support/seed.ts';

const CLIENT_BUDGET = 8;
const ATTEMPTS = 3 * CLIENT_BUDGET;

let app: HardeningApp;
let client: RegisteredClient;
let mallory: Person;
let victim: Person;

beforeAll(async () => {
  // The client's budget is small; the address budget stays out of the way (the attacker has many).
  app = await startHardeningApp({ RATE_LIMIT_CLIENT_PER_MINUTE: String(CLIENT_BUDGET) });
  client = await registerClaudeCode(app);
  mallory = await seedPerson(app, 'mallory');
  victim = await seedPerson(app, 'victim');
});
afterAll(async () => {
  await app?.close();
});

describe("a shared public client's budget", () => {
  it('is not spent by a real code sent again and again with a wrong PKCE verifier', async () => {
    const own = await obtainCode(client, mallory, app);
    for (let i = 0; i < ATTEMPTS; i++) {
      const res = await tokenRequest(app, client, {
        grant_type: 'authorization_code',
        code: own.code,
        code_verifier: 'x'.repeat(43),
        redirect_uri: own.redirectUri,
      });
      expect(res.status, res.raw).toBe(400);
    }
    // Someone else's sign-in with the same client still gets its tokens.
    await exchangeCode(app, client, await obtainCode(client, victim, app));
  });

  it("is not spent by one's own revoked refresh token, refreshed or revoked again and again", async () => {
    const own = await exchangeCode(app, client, await obtainCode(client, mallory, app));
    expect((await revoke(app, client, own.refresh_token)).status).toBe(200);
    for (let i = 0; i < ATTEMPTS; i++) {
      expect((await refresh(app, client, own.refresh_token)).status).toBe(400);
      expect((await revoke(app, client, own.refresh_token)).status).toBe(200);
    }
    const theirs = await exchangeCode(app, client, await obtainCode(client, victim, app));
    const res = await refresh(app, client, theirs.refresh_token);
    expect(res.status, res.raw).toBe(200);
  });
});
