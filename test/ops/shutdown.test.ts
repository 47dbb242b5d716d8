// Graceful shutdown of the real process, as systemd stops it (SIGTERM): it stops accepting, lets the
// request in flight finish, closes kept-alive connections, closes the database (the WAL is
// checkpointed and removed) and exits 0. SIGHUP re-reads the platform keys.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { rotatePlatformKeys } from '../../src/admin/keys.ts';
import { freePort } from '../support/app.ts';
import { exitWithin, startServer, stopServer, type ServerProcess } from './server-process.ts';

let dir: string;
let server: ServerProcess | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-shutdown-'));
});
afterEach(async () => {
  await stopServer(server);
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const dbFile = () => path.join(dir, 'robot-auth.sqlite');

/** The JSON log lines' messages. */
const messages = (s: ServerProcess) =>
  s
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);

async function until(condition: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function get(url: string, agent: http.Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
      .on('error', reject);
  });
}

describe('SIGTERM', () => {
  it('exits 0 at once with an idle kept-alive connection open, having closed the database cleanly', async () => {
    server = await startServer({ dataDir: dir, port: await freePort(), logLevel: 'info' });
    const agent = new http.Agent({ keepAlive: true });
    expect(await get(`${server.url}/.well-known/oauth-authorization-server`, agent)).toEqual({ status: 200, connection: 'keep-alive' });

    const started = Date.now();
    server.child.kill('SIGTERM');
    expect(await exitWithin(server, 3000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(messages(server)).toEqual(expect.arrayContaining(['shutting down', 'shut down cleanly']));
    agent.destroy();

    // The last connection checkpointed the WAL into the file and removed it.
    expect(fs.existsSync(`${dbFile()}-wal`)).toBe(false);
    const db = new Database(dbFile(), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('lets a request in flight finish (with Connection: close) while refusing new connections', async () => {
    server = await startServer({ dataDir: dir, port: await freePort(), logLevel: 'info' });
    const body = JSON.stringify({ client_name: 'In flight', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' });
    const response = new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
      const req = http.request(`${server!.url}/auth/oauth/register`, {
        method: 'POST',
        agent: new http.Agent({ keepAlive: true }),
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
      });
      req.on('error', reject);
      // Half the body now: the request is in flight, its handler waiting for the rest.
      req.write(body.slice(0, 20));
      setTimeout(() => {
        server!.child.kill('SIGTERM');
        void until(() => messages(server!).includes('shutting down')).then(async () => {
          // New connections are refused while the old one is served.
          await expect(fetch(`${server!.url}/.well-known/jwks.json`)).rejects.toThrow();
          req.end(body.slice(20));
        }, reject);
      }, 200);
    });

    const res = await response;
    expect(res.status).toBe(201);
    expect(res.connection).toBe('close');
    const clientId = (JSON.parse(res.body) as { client_id: string }).client_id;
    expect(await exitWithin(server, 3000)).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(`${dbFile()}-wal`)).toBe(false);
    const db = new Database(dbFile(), { readonly: true });
    expect(db.prepare('SELECT client_id FROM oauth_clients').all()).toEqual([{ client_id: clientId }]);
    db.close();
  });
});

describe('SIGHUP', () => {
  it('re-reads the platform key file: the rotated key is published without a restart', async () => {
    server = await startServer({ dataDir: dir, port: await freePort() });
    const kids = async () => ((await (await fetch(`${server!.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const [oldKid] = await kids();
    // No JWKS cache to wait for (src/config/jwks-cache.ts): the rotated key signs as soon as it is loaded.
    const rotation = await rotatePlatformKeys(parseConfig({ DATA_DIR: dir, JWKS_MAX_AGE_SECONDS: '0' }));
    server.child.kill('SIGHUP');
    await until(async () => (await kids()).length === 2);
    expect(await kids()).toEqual([rotation.kid, oldKid]);
    server.child.kill('SIGTERM');
    expect(await exitWithin(server, 3000)).toEqual({ code: 0, signal: null });
  });
});
