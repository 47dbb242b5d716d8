// Attack: a platform signing key leaks. The operator runs `keys rotate --drop-previous` on one machine;
// tokens the attacker signs with the leaked key must stop working on EVERY running instance, at once
// (within PLATFORM_KEYS_POLL_SECONDS), not only where the operator remembered to restart or send
// SIGHUP. Before the reload poll (src/config/key-reload.ts), each instance kept accepting the dropped
// key until its own restart. Two real server processes (`node src/server.ts`) share one data
// directory (the default key file) and one database (the SQLite file there, or a PostgreSQL
// database in the `postgres` project); tokens come from the real token endpoint.
import http from 'node:http';
import * as jose from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/admin/program.ts';
import { readKeyFile } from '../../src/config/keys.ts';
import { freePort } from '../support/app.ts';
import { startServer, stopServer, type ServerProcess } from '../ops/server-process.ts';
import { captureIo } from '../support/cli-io.ts';
import { seedClient, seedGrant, seedUser, tempStoreData, type TempStoreData } from '../support/seed.ts';

let t: TempStoreData;
let clientId: string;
let refreshToken: string;
const servers: ServerProcess[] = [];

beforeEach(async () => {
  t = await tempStoreData();
  const alice = await seedUser(t, 'alice');
  clientId = await seedClient(t);
  refreshToken = (await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId })).refreshToken;
  await t.store.close();
});
afterEach(async () => {
  for (const server of servers.splice(0)) await stopServer(server);
  await t.cleanup();
});

function call(port: number, options: { method: string; path: string; host?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: options.method, path: options.path, headers: { Host: options.host ?? new URL(t.config.publicUrl).host, ...options.headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function refresh(port: number): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }).toString();
  const res = await call(port, { method: 'POST', path: '/auth/oauth/token', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  expect(res.status, res.body).toBe(200);
  const json = JSON.parse(res.body) as { access_token: string; refresh_token: string };
  refreshToken = json.refresh_token;
  return json.access_token;
}

/** /auth/verify on the wiki host, as Caddy's forward_auth asks it. */
const verify = async (port: number, token: string) =>
  (await call(port, { method: 'GET', path: '/auth/verify', host: `alice.${new URL(t.config.publicUrl).host}`, headers: { Authorization: `Bearer ${token}` } })).status;

describe('a dropped (compromised) platform key', () => {
  it('stops verifying on every running instance within the poll interval, with no restart and no SIGHUP', async () => {
    const ports = [await freePort(), await freePort()];
    for (const port of ports) {
      // Sequential: the first start writes the development key file the second one reads.
      // One public origin for both, as behind a load balancer (the seeded grant names alice.localhost:3000).
      servers.push(await startServer({ dataDir: t.dir, port, env: { ...t.env, PUBLIC_URL: t.config.publicUrl, PLATFORM_KEYS_POLL_SECONDS: '1' } }));
    }
    const [a, b] = ports as [number, number];
    const leakedKid = readKeyFile(t.config.platformKeysFile)[0]!.kid;
    const signedWithLeakedKey = await refresh(a);
    expect(jose.decodeProtectedHeader(signedWithLeakedKey).kid).toBe(leakedKid);
    expect(await verify(a, signedWithLeakedKey)).toBe(200);
    expect(await verify(b, signedWithLeakedKey)).toBe(200);

    const capture = captureIo({ DATA_DIR: t.dir, ...t.env }, t.dir);
    expect(await runCli(['keys', 'rotate', '--drop-previous'], capture.io), capture.stderr()).toBe(0);

    const deadline = Date.now() + 5000;
    let statuses: number[] = [];
    while (Date.now() < deadline) {
      statuses = [await verify(a, signedWithLeakedKey), await verify(b, signedWithLeakedKey)];
      if (statuses.every((s) => s === 401)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(statuses, 'the dropped key still verifies on an instance that was not restarted').toEqual([401, 401]);
    // Clients carry on: a refresh on either instance gets a token of the new key, good on both.
    const fresh = await refresh(b);
    expect(jose.decodeProtectedHeader(fresh).kid).not.toBe(leakedKid);
    expect(await verify(a, fresh)).toBe(200);
    const jwks = await Promise.all(ports.map(async (port) => JSON.parse((await call(port, { method: 'GET', path: '/.well-known/jwks.json' })).body) as { keys: { kid: string }[] }));
    expect(jwks[0]!.keys.map((k) => k.kid)).not.toContain(leakedKid);
    expect(jwks[1]).toEqual(jwks[0]);
  });
});
