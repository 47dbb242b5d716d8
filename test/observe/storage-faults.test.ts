// Issue 13 item 5: storage faults answer 503 with Retry-After (RFC 6749 JSON or a plain page),
// /healthz says `degraded` with the cause while writes fail, one log line per fault kind per
// minute, counted in metrics, and service resumes by itself. Real faults: a full tmpfs, a lock held
// by another connection, a corrupt file and a read-only remount at start-up. Mounting needs root
// (the suite runs as root here and in CI); without it these tests fail and say so.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { httpRequest } from '../support/pds.ts';
import { SERVER } from '../ops/server-process.ts';

const mounts: string[] = [];

function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('storage-fault tests mount tmpfs file systems and need root (uid 0); run the suite as root (CI does)');
  }
}

function tmpfs(sizeKiB: number): string {
  requireRoot();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-fault-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of mounts.reverse()) {
    try {
      execFileSync('umount', ['-l', dir]);
    } catch {
      // already unmounted
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function registration(i: number) {
  return {
    client_name: `filler ${i} ${'x'.repeat(150)}`,
    redirect_uris: Array.from({ length: 5 }, (_, k) => `https://client${i}.example/cb/${k}/${'p'.repeat(100)}`),
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
}

function register(app: TestApp, i: number) {
  return httpRequest(`${app.url}/auth/oauth/register`, { method: 'POST', json: registration(i) });
}

function captureLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe('disk full (a 3 MiB tmpfs as DATA_DIR)', () => {
  let app: TestApp;
  let dir: string;
  const { log, lines } = captureLog();

  beforeAll(async () => {
    dir = tmpfs(3072);
    app = await startTestApp({ DATA_DIR: dir, RATE_LIMIT_REGISTER_PER_MINUTE: '100000' }, { log });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers 503 + Retry-After + temporarily_unavailable, /healthz degraded, one log line, counted; then resumes when space returns', async () => {
    expect((await register(app, -1)).status).toBe(201);
    // Fill what is left of the disk.
    const filler = path.join(dir, 'filler');
    const fd = fs.openSync(filler, 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    // Writes go on while the WAL has room; then the disk is full.
    let refused;
    for (let i = 0; i < 400 && refused === undefined; i++) {
      const res = await register(app, i);
      if (res.status !== 201) refused = res;
    }
    expect(refused, 'the disk never filled').toBeDefined();
    expect(refused!.status).toBe(503);
    expect(refused!.headers['retry-after']).toBe('60');
    expect(JSON.parse(refused!.body)).toMatchObject({ error: 'temporarily_unavailable' });

    for (let i = 0; i < 20; i++) expect((await register(app, 1000 + i)).status).toBe(503);
    const health = await httpRequest(`${app.url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'degraded', database: 'ok', cause: 'disk_full' });
    // Reads still work.
    expect((await httpRequest(`${app.url}/.well-known/oauth-authorization-server`)).status).toBe(200);

    // 21 refused requests: one fault line, no "request failed", no per-request error lines.
    expect(lines.filter((l) => String(l.msg).startsWith('storage fault (disk_full)'))).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'request failed')).toHaveLength(0);
    expect(lines.filter((l) => (l.level as number) >= 50)).toHaveLength(1);
    const metrics = await app.ctx.metrics.registry.getSingleMetricAsString('robot_auth_storage_faults_total');
    expect(metrics).toMatch(/robot_auth_storage_faults_total\{kind="disk_full"\} (2[1-9]|[3-9]\d)/);

    // A browser route gets the plain page.
    const page = await httpRequest(`${app.url}/auth/oauth/register`, { method: 'POST', json: registration(9999), headers: { accept: 'text/html' } });
    expect(page.status).toBe(503);

    // Space returns: service resumes by itself.
    fs.rmSync(filler);
    expect((await register(app, 5000)).status).toBe(201);
    expect(JSON.parse((await httpRequest(`${app.url}/healthz`)).body)).toEqual({ status: 'ok', database: 'ok' });
    expect(lines.some((l) => l.msg === 'storage recovered: writes succeed again')).toBe(true);
    // Nothing was lost and the database is sound.
    expect(app.ctx.sqlite!.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});

describe('database locked past the busy timeout (another connection holds BEGIN IMMEDIATE)', () => {
  let app: TestApp;
  const { log, lines } = captureLog();
  beforeAll(async () => {
    app = await startTestApp({}, { log });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers 503 + Retry-After: 5, degraded "locked", and resumes when the lock goes', async () => {
    const other = new Database(app.config.databaseFile);
    other.exec('BEGIN IMMEDIATE');
    let res;
    try {
      res = await register(app, 1);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(JSON.parse(res.body)).toMatchObject({ error: 'temporarily_unavailable' });
      expect(JSON.parse((await httpRequest(`${app.url}/healthz`)).body)).toMatchObject({ status: 'degraded', cause: 'locked' });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(lines.filter((l) => String(l.msg).startsWith('storage fault (locked)'))).toHaveLength(1);
    expect((await register(app, 2)).status).toBe(201);
    expect(JSON.parse((await httpRequest(`${app.url}/healthz`)).body)).toEqual({ status: 'ok', database: 'ok' });
  }, 20_000);
});

/** The real server process; resolves once its port answers (the app or the 503 stand-in). */
async function spawnServer(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER], {
    cwd: dataDir,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', METRICS_PORT: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const url = `http://localhost:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}\n${out}`);
    try {
      await httpRequest(`${url}/healthz`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`server did not answer in 15 s\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    child,
    url,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitForHealth(url: string, status: string, ms: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    // The stand-in hands the port over to the app: a refused connection in between is expected.
    const body = await httpRequest(`${url}/healthz`).then(
      (res) => JSON.parse(res.body) as Record<string, unknown>,
      (err: unknown) => ({ status: 'no answer', err: String(err) }),
    );
    if (body.status === status || Date.now() > deadline) return body;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function expectStandIn(url: string, cause: string): Promise<void> {
  const health = await httpRequest(`${url}/healthz`);
  expect(health.status).toBe(503);
  expect(JSON.parse(health.body)).toEqual({ status: 'unavailable', database: 'unreachable', cause });
  const token = await httpRequest(`${url}/auth/oauth/token`, { method: 'POST', body: 'grant_type=refresh_token', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  expect(token.status).toBe(503);
  expect(Number(token.headers['retry-after'])).toBeGreaterThan(0);
  expect(JSON.parse(token.body)).toMatchObject({ error: 'temporarily_unavailable' });
  const page = await httpRequest(`${url}/account`);
  expect(page.status).toBe(503);
  expect(page.headers['content-type']).toMatch(/^text\/html/);
  expect(page.body).toContain('Temporarily unavailable');
}

describe('at start-up', () => {
  it('a corrupt database file: 503 everywhere with the cause, one line saying to restore; serves once the file is restored', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-corrupt-'));
    const file = path.join(dir, 'robot-auth.sqlite');
    fs.writeFileSync(file, Buffer.alloc(8192, 0x5a), { mode: 0o600 });
    const server = await spawnServer(dir);
    try {
      await expectStandIn(server.url, 'corrupt');
      expect(server.output()).toContain('storage fault at start-up (corrupt)');
      expect(server.output()).toContain('restore the latest backup');
      // The operator restores (here: a fresh file): the service starts by itself.
      fs.rmSync(file);
      expect(await waitForHealth(server.url, 'ok', 10_000)).toEqual({ status: 'ok', database: 'ok' });
      expect(server.output()).toContain('storage recovered: the database opened; starting');
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('a read-only remount of DATA_DIR: 503 with cause read_only; serves once it is read-write again', async () => {
    const dir = tmpfs(8192);
    // A first start creates keys and the database; a clean stop closes every file.
    const first = await spawnServer(dir);
    expect(await waitForHealth(first.url, 'ok', 10_000)).toEqual({ status: 'ok', database: 'ok' });
    await first.stop();
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const server = await spawnServer(dir);
    try {
      await expectStandIn(server.url, 'read_only');
      expect(server.output()).toContain('storage fault at start-up (read_only)');
      execFileSync('mount', ['-o', 'remount,rw', dir]);
      expect(await waitForHealth(server.url, 'ok', 10_000)).toEqual({ status: 'ok', database: 'ok' });
    } finally {
      await server.stop();
    }
  }, 40_000);
});
