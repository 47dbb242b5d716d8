// Crash safety: the real server under concurrent token refreshes and registrations is killed with
// SIGKILL mid-load and started again. Everything a client saw succeed before the kill must still be
// there: the registered clients exist, every refresh token handed out is stored, the last one of
// each chain still refreshes (within the grace period, as its successor may have been committed
// unseen), an access token and a session cookie issued before the crash still work, and the
// database passes integrity_check.
//
// Runs on both stores (vitest.config.ts): SQLite, or in the `postgres` project a PostgreSQL database
// on the shared test server (DATABASE_URL), where the app process is killed, not the database server.
// The test reads and seeds through a Store of its own, beside the server's.
//
// What this proves, and what it does not: the server runs SQLite in WAL mode with
// synchronous=NORMAL, so a committed transaction is in the WAL (in the OS page cache) before the
// response is sent, and survives a crash of the process. An OS crash or power cut can lose the last
// transactions before a WAL checkpoint (they were not fsynced); that is the documented trade-off.
// On PostgreSQL a COMMIT has returned before the response is sent; durability across a crash of the
// database server itself is PostgreSQL's (the test server runs with fsync off and is not killed).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieNames } from '../../src/accounts/cookies.ts';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { openDatabase } from '../../src/db/open.ts';
import { openStore } from '../../src/storage/open-store.ts';
import type { Store } from '../../src/storage/store.ts';
import { freePort } from '../support/app.ts';
import { seedGrant, seedSignedInSession, seedUser } from '../support/seed.ts';
import { createTestDatabase, onPostgres, type TestDatabase } from '../support/test-database.ts';
import { startServer, stopServer, type ServerProcess } from './server-process.ts';

/** The load goes well past the default per-address limits (everything comes from 127.0.0.1). */
const GENEROUS_LIMITS = {
  RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
  RATE_LIMIT_REGISTER_PER_MINUTE: '1000000',
  RATE_LIMIT_DISCOVERY_PER_MINUTE: '1000000',
  RATE_LIMIT_CLIENT_PER_MINUTE: '1000000',
  RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: '1000000',
  RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: '1000000',
};
const CHAINS = 12;
const REGISTRARS = 4;

let dir: string;
let port: number;
let config: Config;
let server: ServerProcess | undefined;
let store: Store | undefined;
let database: TestDatabase | undefined;
let storeEnv: Record<string, string> = {};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-crash-'));
  port = await freePort();
  database = onPostgres() ? await createTestDatabase() : undefined;
  storeEnv = database ? { DATABASE_URL: database.url } : {};
  config = parseConfig({ DATA_DIR: dir, PORT: String(port), ...storeEnv });
});
afterAll(async () => {
  await stopServer(server);
  await store?.close();
  await database?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const start = () => startServer({ dataDir: dir, port, env: { ...GENEROUS_LIMITS, ...storeEnv } });

async function register(url: string, name: string): Promise<Response> {
  return fetch(`${url}/auth/oauth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: ['http://localhost:5555/callback'], token_endpoint_auth_method: 'none' }),
  });
}

async function refresh(url: string, clientId: string, refreshToken: string): Promise<Response> {
  return fetch(`${url}/auth/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }),
  });
}

/** As Caddy's forward_auth asks: the wiki's own Host (fetch cannot set Host, so node:http). */
const verify = (url: string, slug: string, accessToken: string) =>
  new Promise<{ status: number }>((resolve, reject) => {
    const target = new URL('/auth/verify', url);
    http
      .get({ hostname: target.hostname, port: target.port, path: target.pathname, headers: { Host: `${slug}.localhost:${port}`, Authorization: `Bearer ${accessToken}` } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      })
      .on('error', reject);
  });

const account = (url: string, cookie: string) => fetch(`${url}/account`, { headers: { Cookie: `${cookieNames({ production: false }).session}=${cookie}` }, redirect: 'manual' });

describe('kill -9 under load', () => {
  it('loses nothing a client saw succeed', async () => {
    server = await start();
    const url = server.url;
    // The test's own store, beside the server's (a second SQLite connection, which WAL allows, or a
    // second PostgreSQL pool), for what only a PDS sign-in could create. Opened once the server has migrated.
    const own = (store = openStore(config));

    const registered = await register(url, 'Crash test');
    expect(registered.status).toBe(201);
    const clientId = ((await registered.json()) as { client_id: string }).client_id;
    const users = [await seedUser(own, 'alice'), await seedUser(own, 'bobby'), await seedUser(own, 'carol')];
    const chains: { slug: string; token: string }[] = [];
    for (let i = 0; i < CHAINS; i++) {
      const user = users[i % users.length]!;
      chains.push({ slug: user.username, token: (await seedGrant(own, config, { did: user.did, slug: user.username, clientId })).refreshToken });
    }

    // Before the load: an access token and a browser session, to use again after the crash.
    const first = await refresh(url, clientId, chains[0]!.token);
    expect(first.status).toBe(200);
    const firstBody = (await first.json()) as { access_token: string; refresh_token: string };
    chains[0]!.token = firstBody.refresh_token;
    const cookie = (await seedSignedInSession({ config, store: own }, users[0]!, 'crash test')).value;
    expect((await verify(url, chains[0]!.slug, firstBody.access_token)).status).toBe(200);
    expect((await account(url, cookie)).status).toBe(200);

    // The load: each chain refreshes in a loop (one request at a time per chain, as a client does),
    // registrations run beside them. A response counts as seen only once its whole body arrived.
    const seenRefreshTokens: string[] = [firstBody.refresh_token];
    const seenClients: string[] = [clientId];
    const failures: string[] = [];
    let interrupted = 0;
    let running = true;
    const refreshing = chains.map(async (chain) => {
      while (running) {
        try {
          const res = await refresh(url, clientId, chain.token);
          const body = (await res.json()) as { refresh_token?: string; error?: string };
          if (res.status !== 200 || !body.refresh_token) {
            failures.push(`refresh ${res.status} ${body.error}`);
            return;
          }
          chain.token = body.refresh_token;
          seenRefreshTokens.push(body.refresh_token);
        } catch {
          interrupted++; // the kill, mid-request
          return;
        }
      }
    });
    const registering = Array.from({ length: REGISTRARS }, async (_, r) => {
      for (let i = 0; running; i++) {
        try {
          const res = await register(url, `Load ${r}.${i}`);
          const body = (await res.json()) as { client_id?: string };
          if (res.status !== 201 || !body.client_id) {
            failures.push(`register ${res.status}`);
            return;
          }
          seenClients.push(body.client_id);
        } catch {
          interrupted++;
          return;
        }
      }
    });

    const deadline = Date.now() + 8000;
    while (seenRefreshTokens.length < 300 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    server.child.kill('SIGKILL');
    const { signal } = await server.exited;
    running = false;
    await Promise.all([...refreshing, ...registering]);
    expect(signal).toBe('SIGKILL');
    expect(failures).toEqual([]);
    expect(seenRefreshTokens.length).toBeGreaterThanOrEqual(100);
    // Every loop had a request in flight when the process died.
    expect(interrupted).toBe(CHAINS + REGISTRARS);

    // Start again on the same database (and port: tokens name the issuer http://localhost:PORT).
    server = await start();

    if (own.dialect === 'sqlite') {
      const check = openDatabase(config.databaseFile);
      try {
        expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        check.close();
      }
    }
    const missingClients: string[] = [];
    for (const id of seenClients) if (!(await own.repos.clients.find(id))) missingClients.push(id);
    expect(missingClients).toEqual([]);
    const missingTokens: string[] = [];
    for (const token of seenRefreshTokens) if (!(await own.repos.refreshTokens.findByValue(token))) missingTokens.push(token);
    expect(missingTokens).toEqual([]);

    // The last refresh token each client saw still works, whether or not the server had rotated it
    // before dying (the successor would be unseen: the grace period covers exactly this).
    const after = await Promise.all(chains.map((chain) => refresh(server!.url, clientId, chain.token)));
    expect(after.map((res) => res.status)).toEqual(chains.map(() => 200));
    // And what was issued before the crash still opens the wiki and the account page.
    expect((await verify(server.url, chains[0]!.slug, firstBody.access_token)).status).toBe(200);
    expect((await account(server.url, cookie)).status).toBe(200);
    expect((await register(server.url, 'After the crash')).status).toBe(201);
  });
});
