// The service on PostgreSQL (issue 12): with DATABASE_URL set, createContext connects, applies the
// PostgreSQL migrations (two instances starting at once apply each once, under the advisory lock),
// reads the platform keys from PostgreSQL under PLATFORM_KEYS_KEK, and serves from the PostgreSQL
// store; there is no SQLite file or connection. Storage faults on
// PostgreSQL (server gone mid-run) answer 503 with Retry-After through the same path as SQLite's,
// with a log line naming the server (password redacted) and what to check; /healthz says
// unreachable. The real server process started against an unreachable PostgreSQL answers 503 and
// retries until it can connect, then serves.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createContext } from '../../src/context.ts';
import { migrateToPostgres } from '../../src/admin/migrate-to-postgres.ts';
import { openDatabase } from '../../src/db/open.ts';
import { readPostgresMigrations } from '../../src/db/postgres/migrate.ts';
import { signAccessToken } from '../../src/oauth/tokens/access-token.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { apiResponses, errorHandler } from '../../src/web/error-handler.ts';
import { freePort, testConfig } from '../support/app.ts';
import { captureLog } from '../support/log-lines.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { SERVER } from './server-process.ts';

const KEK = crypto.randomBytes(32).toString('base64url');


const dirs: string[] = [];
function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-pg-serve-'));
  dirs.push(dir);
  return dir;
}

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('createContext with DATABASE_URL', () => {
  it('migrates once when two instances start at once, and keeps no SQLite file', async () => {
    const url = await pg.createDatabase();
    const dirA = dataDir();
    const dirB = dataDir();
    // Keys from each instance's own key file here: this is about the migrations.
    const [a, b] = await Promise.all([
      createContext(testConfig(dirA, { DATABASE_URL: url }), { log: pino({ level: 'silent' }) }),
      createContext(testConfig(dirB, { DATABASE_URL: url }), { log: pino({ level: 'silent' }) }),
    ]);
    const admin = createPool({ url, poolSize: 1 });
    try {
      expect(a.store.dialect).toBe('postgres');
      // No SQLite connection anywhere in the context: everything reads through the store.
      expect(a.sqlite).toBeUndefined();
      expect('db' in a).toBe(false);
      const applied = await admin.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY version');
      expect(applied.rows.map((r) => r.name)).toEqual(readPostgresMigrations().map((m) => m.name));
      expect(fs.readdirSync(dirA).filter((f) => f.includes('sqlite'))).toEqual([]);
      expect(fs.readdirSync(dirB).filter((f) => f.includes('sqlite'))).toEqual([]);
      // One database: a row written through one instance is read through the other.
      await a.store.repos.users.insertWithFirstWiki({ did: 'did:plc:pgserve1', handle: 'pgserve1.test', displayName: null, username: 'pgserve1' });
      expect((await b.store.repos.users.findByDid('did:plc:pgserve1'))?.username).toBe('pgserve1');
    } finally {
      await admin.end();
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);

  it('development instances starting together on an empty database generate one key set, not one each', async () => {
    const env = { DATABASE_URL: await pg.createDatabase(), PLATFORM_KEYS_KEK: KEK };
    const contexts = await Promise.all([0, 1, 2].map(() => createContext(testConfig(dataDir(), env), { log: pino({ level: 'silent' }) })));
    try {
      const kids = contexts.map((c) => `${c.platformKeys.current.kid}/${c.identityKeys.current.kid}`);
      expect(new Set(kids).size).toBe(1);
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
  }, 60_000);

  it('reads the platform keys from PostgreSQL under PLATFORM_KEYS_KEK: every instance signs with the same key', async () => {
    const url = await pg.createDatabase();
    const env = { DATABASE_URL: url, PLATFORM_KEYS_KEK: KEK };
    // The first (development) instance writes the keys; the others read them.
    const a = await createContext(testConfig(dataDir(), env), { log: pino({ level: 'silent' }) });
    const [b, c] = await Promise.all([
      createContext(testConfig(dataDir(), env), { log: pino({ level: 'silent' }) }),
      createContext(testConfig(dataDir(), env), { log: pino({ level: 'silent' }) }),
    ]);
    const admin = createPool({ url, poolSize: 1 });
    try {
      const keys = await admin.query<{ kid: string; sealed_jwk: string }>('SELECT kid, sealed_jwk FROM platform_keys ORDER BY position');
      expect(keys.rows.map((r) => r.kid)).toContain(a.platformKeys.current.kid);
      expect(keys.rows.every((r) => r.sealed_jwk.startsWith('v1.'))).toBe(true);
      expect(b.platformKeys.current.kid).toBe(a.platformKeys.current.kid);
      expect(c.platformKeys.current.kid).toBe(a.platformKeys.current.kid);
      expect(fs.existsSync(a.config.platformKeysFile)).toBe(false);
    } finally {
      await admin.end();
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  }, 60_000);

  it('after `migrate-to-postgres` (docs/operations.md, cut-over), the service on PostgreSQL has the SQLite deployment\'s rows and keys', async () => {
    const dir = dataDir();
    const sqliteCtx = await createContext(testConfig(dir, { PLATFORM_KEYS_KEK: KEK }), { log: pino({ level: 'silent' }) });
    await sqliteCtx.store.repos.users.insertWithFirstWiki({ did: 'did:plc:cutover', handle: 'cutover.test', displayName: null, username: 'cutover' });
    const input = { did: 'did:plc:cutover', resource: 'http://cutover.localhost:3000/mcp', clientId: 'rc_x', scope: 'wiki:read', grantId: 'g' };
    const { token } = signAccessToken({ config: sqliteCtx.config, keys: sqliteCtx.platformKeys }, input);
    const kid = sqliteCtx.platformKeys.current.kid;
    const databaseFile = sqliteCtx.config.databaseFile;
    await sqliteCtx.close();

    const url = await pg.createDatabase();
    const db = openDatabase(databaseFile);
    const pool = createPool({ url, poolSize: 2 });
    try {
      expect((await migrateToPostgres({ db, databaseFile, pool })).ok).toBe(true);
    } finally {
      db.close();
      await pool.end();
    }
    const { log, lines } = captureLog();
    const ctx = await createContext(testConfig(dataDir(), { DATABASE_URL: url, PLATFORM_KEYS_KEK: KEK }), { log });
    try {
      expect(ctx.store.dialect).toBe('postgres');
      expect((await ctx.store.repos.users.findByUsername('cutover'))?.did).toBe('did:plc:cutover');
      expect((await ctx.store.repos.wikis.findBySlug('cutover'))?.ownerDid).toBe('did:plc:cutover');
      // The keys came over with the tables: same signing key, and a token signed before the move verifies.
      expect(ctx.platformKeys.current.kid).toBe(kid);
      expect(ctx.accessTokens.verify(token, input.resource)).toMatchObject({ did: 'did:plc:cutover' });
      // Nothing left to migrate at the switch.
      expect(lines().some((l) => l.msg === 'database migrated')).toBe(false);
    } finally {
      await ctx.close();
    }
  }, 60_000);

  it('answers /healthz from PostgreSQL, and a storage fault with 503, Retry-After and the operator\'s log line', async () => {
    // A server of its own: it is stopped half-way.
    const own = await startPostgres();
    const url = (await own.createDatabase()).replace('postgres@', 'postgres:hunter2@');
    const { log, lines } = captureLog();
    const ctx = await createContext(testConfig(dataDir(), { DATABASE_URL: url, PLATFORM_KEYS_KEK: KEK }), { log });
    try {
      const app = createApp(ctx);
      expect((await request(app).get('/healthz')).body).toEqual({ status: 'ok', database: 'ok' });
      // A route that reads through the store, behind the app's own error handler.
      const probe = express()
        .use(apiResponses)
        .get('/read', async (_req, res) => void res.json({ user: (await ctx.store.repos.users.findByDid('did:plc:nobody')) ?? null }))
        .use(errorHandler(ctx.log, ctx));
      expect((await request(probe).get('/read')).status).toBe(200);

      await own.stop();
      const refused = await request(probe).get('/read');
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('10');
      expect(refused.body).toMatchObject({ error: 'temporarily_unavailable' });
      const health = await request(app).get('/healthz');
      expect(health.status).toBe(503);
      expect(health.body).toEqual({ status: 'unavailable', database: 'unreachable', cause: 'unreachable' });
      expect(ctx.storage.current()?.cause).toBe('unreachable');

      const fault = lines().find((l) => l.fault === 'unreachable');
      expect(fault).toMatchObject({ level: 50, database: expect.stringContaining('postgres:***@127.0.0.1:') });
      expect(String(fault!.msg)).toMatch(/storage fault \(unreachable\): answering 503; PostgreSQL at DATABASE_URL is unreachable/);
      expect(JSON.stringify(lines())).not.toContain('hunter2');
    } finally {
      await ctx.close();
      await own.stop();
    }
  }, 60_000);
});

/** A TCP relay to PostgreSQL that refuses connections until `open()`: a database server that comes up late. */
async function lateRelay(target: number): Promise<{ port: number; open(): Promise<void>; close(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    port,
    open: () => new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve())),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the server process with DATABASE_URL', () => {
  it('answers 503 while PostgreSQL is unreachable, names the server without its password, and serves once it answers', async () => {
    const url = new URL(await pg.createDatabase());
    const relay = await lateRelay(Number(url.port));
    const port = await freePort();
    const dir = dataDir();
    url.port = String(relay.port);
    url.password = 'hunter2';
    const child = spawn(process.execPath, [SERVER], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        DATA_DIR: dir,
        LOG_LEVEL: 'info',
        METRICS_PORT: 'off',
        DATABASE_URL: url.href,
        PLATFORM_KEYS_KEK: KEK,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const waitFor = async (what: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!what()) {
        if (Date.now() > deadline) throw new Error(`timed out; output:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    try {
      await waitFor(() => out.includes('storage fault at start-up'), 20_000);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(503);
      expect(health.headers.get('retry-after')).toBe('10');
      expect(await health.json()).toEqual({ status: 'unavailable', database: 'unreachable', cause: 'unreachable' });
      const token = await fetch(`http://127.0.0.1:${port}/token`, { method: 'POST' });
      expect(token.status).toBe(503);
      expect(await token.json()).toMatchObject({ error: 'temporarily_unavailable' });
      const line = out.split('\n').find((l) => l.includes('storage fault at start-up'))!;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(parsed).toMatchObject({ fault: 'unreachable', database: `postgres://postgres:***@127.0.0.1:${relay.port}/${url.pathname.slice(1)}` });
      expect(String(parsed.msg)).toMatch(/PostgreSQL at DATABASE_URL is unreachable/);
      expect(out).not.toContain('hunter2');
      expect(out).not.toContain('still serves from SQLite');

      await relay.open();
      await waitFor(() => out.includes('robot-auth is listening'), 20_000);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ status: 'ok', database: 'ok' });
      expect(fs.readdirSync(dir).filter((f) => f.includes('sqlite'))).toEqual([]);

      // SIGTERM: a graceful stop that closes the pools.
      child.kill('SIGTERM');
      await waitFor(() => child.exitCode !== null, 15_000);
      expect(child.exitCode).toBe(0);
      expect(out).toContain('shut down cleanly');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await relay.close();
    }
  }, 90_000);
});
