// Bounded growth: whatever the traffic, purgeExpired (server.ts runs it every 10 minutes) brings
// every table back to a size that does not depend on how much traffic there was. The loop plays
// the whole life of MCP clients (register → authorize → consent → token → refresh → revoke), the
// litter of abandoned flows (unused registrations, requests, codes, tickets, sign-in starts), then
// "time passes" (Date is faked for the purge only) and the counts are compared. On either store: the
// purge is the Store's (store.repos.purge.expired, what src/maintenance.ts runs), rows the loop
// cannot create over HTTP go in through the Store's repositories, and counts come from app.sql().
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { SIGNUP_TICKET_TTL_SECONDS } from '../../src/lifetimes.ts';
import { createSession } from '../../src/accounts/session.ts';
import { LONG_TEST_TIMEOUT_MS } from './arbitraries.ts';
import { createPdsAccount } from '../support/pds.ts';
import {
  anonymousCsrf,
  authorize,
  connectClient,
  consent,
  pkcePair,
  refresh,
  registerClient,
  rowCounts,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  type HardeningApp,
  type Tokens,
} from './support.ts';


vi.setConfig({ testTimeout: LONG_TEST_TIMEOUT_MS });
const DOCUMENT = {
  redirect_uris: ['https://client.example/cb'],
  token_endpoint_auth_method: 'none' as const,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

let apps: HardeningApp[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
});

/** The purge as the server runs it, `aheadMs` in the future (only Date is faked; nothing else runs meanwhile). */
async function purgeAt(app: HardeningApp, aheadMs: number): Promise<Record<string, number>> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + aheadMs);
  try {
    return await app.ctx.store.repos.purge.expired({ clientIdleSeconds: app.ctx.config.clientIdlePurgeSeconds });
  } finally {
    vi.useRealTimers();
  }
}

/** Iterations of real traffic and abandoned flows; returns the table sizes right after. */
async function traffic(iterations: number, realLoginEvery: number): Promise<{ app: HardeningApp; grown: Record<string, number> }> {
  const app = await startHardeningApp();
  apps.push(app);
  const owner = await seedUser(app.ctx, 'owner');
  const browser = await signedInBrowser(app, owner);
  const csrf = await anonymousCsrf(app);
  const account = realLoginEvery > 0 ? await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'grow' }) : undefined;

  for (let i = 0; i < iterations; i++) {
    // A client's whole life: connect, refresh twice, revoke an access token; every third one
    // is disconnected (refresh token revoked).
    const { client, tokens } = await connectClient(app, browser);
    let current: Tokens = tokens;
    for (let r = 0; r < 2; r++) {
      const res = await refresh(app, client.clientId, current.refresh_token);
      expect(res.status, res.text).toBe(200);
      current = res.body as Tokens;
    }
    const revokeAccess = await app.http().post('/auth/oauth/revoke').type('form').send({ token: current.access_token, client_id: client.clientId });
    expect(revokeAccess.status).toBe(200);
    if (i % 3 === 0) {
      const revokeGrant = await app.http().post('/auth/oauth/revoke').type('form').send({ token: current.refresh_token, client_id: client.clientId });
      expect(revokeGrant.status).toBe(200);
    }

    // Litter: a registration never used, a request never decided, a code never exchanged.
    await registerClient(app);
    const abandoned = await registerClient(app);
    await authorize(app, browser, abandoned.clientId, pkcePair(), owner.username);
    await consent(app, browser, await authorize(app, browser, abandoned.clientId, pkcePair(), owner.username));

    // Sign-ins: a browser session, hand-off and signup tickets, a sign-in started and never
    // finished (and, now and then, one started for real at the PDS), an ATProto session of a
    // DID that never chose a username.
    await createSession(app.ctx, owner, 'loop');
    await app.ctx.store.repos.tickets.issue('handoff', `did:plc:handoff${i}`, {}, 120);
    await app.ctx.store.repos.tickets.issue('signup', `did:plc:signup${i}`, { handle: 'x.test', displayName: null, returnTo: undefined }, SIGNUP_TICKET_TTL_SECONDS);
    await app.ctx.store.repos.atprotoStates.set(`state-${i}`, JSON.stringify({ appState: '{}' }), null);
    if (account && i % realLoginEvery === 0) {
      const res = await app.http().post('/auth/login').type('form').set('Cookie', csrf.cookie).send({ handle: account.handle, _csrf: csrf.token });
      expect(res.status, res.text.slice(0, 300)).toBe(303);
    }
    await app.ctx.store.repos.atprotoSessions.set(`did:plc:nosignup${i}`, '{}');
    // A client ID metadata document fetched for a request that went no further (cached as a client).
    const now = Math.floor(Date.now() / 1000);
    await app.ctx.store.repos.clients.upsertDocument(`https://client${i}.example/oauth.json`, DOCUMENT, now, now + 3600);
  }
  return { app, grown: await rowCounts(app) };
}

describe('tables do not grow without bound', () => {
  it('after a month, 100 and 300 iterations of traffic leave the same table sizes', async () => {
    const small = await traffic(100, 25);
    const large = await traffic(300, 75);
    // The traffic did leave rows behind: the purge has something to do.
    for (const table of ['oauth_clients', 'oauth_grants', 'refresh_tokens', 'authorization_codes', 'authorization_requests', 'sessions', 'sign_in_tickets', 'atproto_auth_states', 'revoked_access_tokens', 'atproto_sessions']) {
      expect(large.grown[table], table).toBeGreaterThan(small.grown[table]!);
    }

    // Two hours on: the short-lived litter is gone at once, whatever the traffic.
    for (const { app } of [small, large]) {
      await purgeAt(app, 2 * HOUR);
      const counts = await rowCounts(app);
      for (const table of ['authorization_requests', 'authorization_codes', 'sign_in_tickets', 'atproto_auth_states', 'revoked_access_tokens']) {
        expect(counts[table], table).toBe(0);
      }
    }

    // A month and a day on (refresh tokens live 30 days): both databases are back to the same size.
    await purgeAt(small.app, 31 * DAY);
    await purgeAt(large.app, 31 * DAY);
    // The audit log is kept AUDIT_RETENTION_DAYS (90), not a month: compared after 91 days below.
    const { audit_log: auditSmall, ...a } = await rowCounts(small.app);
    const { audit_log: auditLarge, ...b } = await rowCounts(large.app);
    expect(auditLarge).toBeGreaterThan(auditSmall!);
    expect(b).toEqual(a);
    expect(a).toMatchObject({
      users: 1,
      wikis: 1,
      sessions: 0,
      oauth_clients: 0,
      oauth_grants: 0,
      refresh_tokens: 0,
      authorization_codes: 0,
      authorization_requests: 0,
      sign_in_tickets: 0,
      atproto_auth_states: 0,
      atproto_sessions: 0,
      revoked_access_tokens: 0,
    });
    await purgeAt(small.app, 91 * DAY);
    await purgeAt(large.app, 91 * DAY);
    expect([(await rowCounts(small.app)).audit_log, (await rowCounts(large.app)).audit_log]).toEqual([0, 0]);
  });

  it('keeps what is still in use: live grants and their clients, pending requests, users’ ATProto sessions', async () => {
    const app = await startHardeningApp();
    apps.push(app);
    const owner = await seedUser(app.ctx, 'keeper');
    const browser = await signedInBrowser(app, owner);
    const { client, tokens } = await connectClient(app, browser);
    const pending = await registerClient(app);
    await app.ctx.store.repos.atprotoSessions.set(owner.did, '{}');
    await app.ctx.store.repos.atprotoSessions.set('did:plc:neversignedup', '{}');

    // Eight days on (clients idle a week), the grant is still live (30 days, sliding).
    await purgeAt(app, 8 * DAY);
    expect(await app.ctx.store.repos.clients.find(client.clientId), 'a client holding a live grant').toBeDefined();
    expect(await app.ctx.store.repos.clients.find(pending.clientId), 'a registration never used').toBeUndefined();
    expect(await app.sql().all('SELECT did FROM atproto_sessions')).toEqual([{ did: owner.did }]);
    const res = await refresh(app, client.clientId, tokens.refresh_token);
    expect(res.status, res.text).toBe(200);

    // A request waiting for consent keeps its (idle, grantless) client alive.
    const waiting = await registerClient(app);
    const requestId = await authorize(app, browser, waiting.clientId, pkcePair(), owner.username);
    await app.sql().run('UPDATE oauth_clients SET created_at = created_at - ? WHERE client_id = ?', 8 * 24 * 60 * 60, waiting.clientId);
    await purgeAt(app, 0);
    expect(await app.ctx.store.repos.clients.find(waiting.clientId)).toBeDefined();
    expect(await app.ctx.store.repos.authorizationRequests.find(requestId)).toBeDefined();
  });
});
