// Finding (round 3 review): the per-address budgets of /token, /revoke, /mcp and /auth/verify were
// keyed by the whole IPv6 address. A host holds a /64 or more, so one attacker got a fresh budget per
// address: 2^64 of them. Now an IPv6 address counts as its /56, as express-rate-limit groups it on the
// other per-address routes (src/web/rate-limits.ts, `addressKey`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHardeningApp, type HardeningApp } from '../hardening/support.ts';

const BUDGET = 5;
let app: HardeningApp;

beforeAll(async () => {
  app = await startHardeningApp({ RATE_LIMIT_TOKEN_PER_MINUTE: String(BUDGET) });
});
afterAll(async () => {
  await app?.close();
});

/** A refresh with a token nobody issued: nobody vouches for it, so the address pays. */
const unknownRefresh = (address: string) =>
  app
    .http()
    .post('/auth/oauth/token')
    .set('X-Forwarded-For', address)
    .type('form')
    .send({ grant_type: 'refresh_token', refresh_token: 'not-a-token', client_id: 'https://example.com/client.json' });

describe('per-address budget with IPv6', () => {
  it('one /64 spread over many addresses shares one budget', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 4 * BUDGET; i++) statuses.push((await unknownRefresh(`2001:db8:1:2::${i.toString(16)}`)).status);
    expect(statuses.slice(0, BUDGET).every((s) => s !== 429)).toBe(true);
    expect(statuses.slice(BUDGET).every((s) => s === 429)).toBe(true);
  });

  it('addresses in different /56 networks keep budgets of their own', async () => {
    for (let n = 1; n <= 2 * BUDGET; n++) {
      const res = await unknownRefresh(`2001:db8:9:${n.toString(16)}00::1`);
      expect(res.status).not.toBe(429);
    }
  });
});
