// Issue 9, finding 9 (open registration can fill the disk). The attack: anyone may register
// clients (RFC 7591) and name metadata documents for us to fetch and cache, without limit. Now:
// never-used clients are purged after UNUSED_CLIENT_PURGE_SECONDS, and past MAX_UNUSED_CLIENTS /
// MAX_CACHED_CLIENT_DOCUMENTS new ones get 503 + Retry-After while existing clients keep working.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { registerWithinCap } from '../../src/oauth/clients/client-caps.ts';
import type { ClientMetadata } from '../../src/oauth/clients/client.ts';
import type { Repositories, Store } from '../../src/storage/store.ts';
import {
  authorizeQuery,
  authorize,
  connectClient,
  consent,
  exchangeCode,
  pkcePair,
  REDIRECT_URI,
  refresh,
  registerClient,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  type HardeningApp,
} from '../hardening/support.ts';

const CAP = 3;
const READ_ONLY = { scope: 'wiki:read' };
const HOUR_MS = 60 * 60 * 1000;

let apps: HardeningApp[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
});

async function cappedApp(): Promise<HardeningApp> {
  const app = await startHardeningApp({ MAX_UNUSED_CLIENTS: String(CAP), MAX_CACHED_CLIENT_DOCUMENTS: String(CAP) });
  apps.push(app);
  return app;
}

/** The server's purge job (the Store's), run `aheadMs` from now (only Date is faked; nothing else runs meanwhile). */
async function purgeAt(app: HardeningApp, aheadMs: number): Promise<Record<string, number>> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + aheadMs);
  try {
    const { clientIdlePurgeSeconds, unusedClientPurgeSeconds } = app.ctx.config;
    return await app.ctx.store.repos.purge.expired({ clientIdleSeconds: clientIdlePurgeSeconds, unusedClientSeconds: unusedClientPurgeSeconds });
  } finally {
    vi.useRealTimers();
  }
}

const clientCount = (app: HardeningApp): Promise<number> => app.sql().count('oauth_clients');

const register = (app: HardeningApp) =>
  app.http().post('/auth/oauth/register').send({ client_name: 'Flood', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' });

describe('registrations nobody uses are capped and purged', () => {
  it('past MAX_UNUSED_CLIENTS, /register answers 503 with Retry-After and an RFC 7591 error body, and stores nothing', async () => {
    const app = await cappedApp();
    for (let i = 0; i < CAP; i++) await registerClient(app);
    const before = await clientCount(app);

    const res = await register(app);
    expect(res.status).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toMatch(/no-store/);
    expect(res.body).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/try again later/i) });
    expect(res.body).not.toHaveProperty('client_id');
    expect(await clientCount(app)).toBe(before);
  });

  it('a client already in use still refreshes and still completes a new authorization while registration is full', async () => {
    const app = await cappedApp();
    const owner = await seedUser(app.ctx);
    const browser = await signedInBrowser(app, owner);
    const { client, tokens } = await connectClient(app, browser);
    for (let i = 0; i < CAP; i++) await registerClient(app);
    expect((await register(app)).status).toBe(503);

    const refreshed = await refresh(app, client.clientId, tokens.refresh_token);
    expect(refreshed.status, refreshed.text).toBe(200);
    const pkce = pkcePair();
    const code = await consent(app, browser, await authorize(app, browser, client.clientId, pkce, owner.username));
    const again = await exchangeCode(app, client.clientId, code, pkce);
    expect(again.access_token).toEqual(expect.any(String));
  });

  it('the purge deletes never-used registrations after UNUSED_CLIENT_PURGE_SECONDS (1 h), which frees room; used clients stay', async () => {
    const app = await cappedApp();
    expect(app.ctx.config.unusedClientPurgeSeconds).toBe(3600);
    const owner = await seedUser(app.ctx);
    const browser = await signedInBrowser(app, owner);
    const { client } = await connectClient(app, browser);
    const unused = [];
    for (let i = 0; i < CAP; i++) unused.push(await registerClient(app));
    expect((await register(app)).status).toBe(503);

    // Half an hour on: nothing is purged yet.
    await purgeAt(app, HOUR_MS / 2);
    expect((await register(app)).status).toBe(503);

    // Past the hour: the unused ones are gone, the used one is kept, and registration works again.
    await purgeAt(app, HOUR_MS + 60_000);
    for (const u of unused) expect(await app.ctx.store.repos.clients.find(u.clientId), u.clientId).toBeUndefined();
    expect(await app.ctx.store.repos.clients.find(client.clientId)).toBeDefined();
    expect((await register(app)).status).toBe(201);
  });

  it('tells the operator what to do in a structured warn line, and inserts nothing', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const inserted: unknown[] = [];
    const full = { lockCaps: async () => undefined, countUnusedRegistered: async () => 5, insertRegistered: async (m: unknown) => void inserted.push(m) };
    const store = { transaction: (fn: (tx: Repositories) => Promise<unknown>) => fn({ clients: full } as unknown as Repositories) } as Pick<Store, 'transaction'>;
    const metadata = { client_name: 'Flood', redirect_uris: [REDIRECT_URI] } as ClientMetadata;
    await expect(registerWithinCap({ store, log, config: { maxUnusedClients: 5, unusedClientPurgeSeconds: 3600 } }, metadata, null)).rejects.toThrow(
      /try again later/i,
    );
    expect(inserted).toEqual([]);
    expect(lines).toEqual([expect.objectContaining({ level: 40, cap: 5, msg: expect.stringMatching(/MAX_UNUSED_CLIENTS/) })]);
  });
});

describe('cached client ID metadata documents are capped', () => {
  const document = {
    client_name: 'Cached app',
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none' as const,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };

  it('past MAX_CACHED_CLIENT_DOCUMENTS, a new document is refused with a 503 page; cached ones keep working; the purge frees room', async () => {
    const app = await cappedApp();
    const owner = await seedUser(app.ctx);
    const browser = await signedInBrowser(app, owner);
    const now = Math.floor(Date.now() / 1000);
    const cached = Array.from({ length: CAP }, (_, i) => `https://app${i}.example/client.json`);
    for (const id of cached) await app.ctx.store.repos.clients.upsertDocument(id, { ...document, client_id: id } as typeof document, now, now + 3600);

    const refused = await app.http()
      .get(`/auth/oauth/authorize?${authorizeQuery('https://new-app.example/client.json', owner.username, READ_ONLY)}`)
      .set('Accept', 'text/html')
      .set('Cookie', browser.cookie);
    expect(refused.status).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^text\/html/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.text).toMatch(/try again later/i);
    expect(refused.headers.location).toBeUndefined();
    expect(await app.ctx.store.repos.clients.find('https://new-app.example/client.json')).toBeUndefined();

    const served = await app.http().get(`/auth/oauth/authorize?${authorizeQuery(cached[0]!, owner.username, READ_ONLY)}`).set('Cookie', browser.cookie);
    expect(served.status, served.text.slice(0, 300)).toBe(303);
    expect(String(served.headers.location)).toMatch(/^\/auth\/oauth\/consent\?request=/);

    // Past the hour, the never-used documents are purged: the new one is fetched again (and, as
    // nothing serves it here, refused as unknown rather than for want of room).
    await purgeAt(app, HOUR_MS + 60_000);
    expect(await app.ctx.store.repos.clients.countDocuments()).toBe(0);
    const afterPurge = await app.http()
      .get(`/auth/oauth/authorize?${authorizeQuery('https://new-app.example/client.json', owner.username, READ_ONLY)}`)
      .set('Accept', 'text/html')
      .set('Cookie', browser.cookie);
    expect(afterPurge.status).not.toBe(503);
  });
});
