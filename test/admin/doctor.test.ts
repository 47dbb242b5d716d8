// `admin doctor` units (issue 13 item 1): the runner's deadlines and skips, and the checks whose
// failure cannot be staged on the production stack cheaply — clock skew against a real HTTP server's
// Date, key age against the rotation policy, backup age, pending migrations. The checks against a
// whole deployment are in test/production/doctor.test.ts.
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { backupsCheck } from '../../src/admin/doctor/checks/backups.ts';
import { clockCheck } from '../../src/admin/doctor/checks/clock.ts';
import { databaseCheck } from '../../src/admin/doctor/checks/database.ts';
import { keyAgeCheck } from '../../src/admin/doctor/checks/key-age.ts';
import { authParam, forgedHeadersCheck, mcp401Check } from '../../src/admin/doctor/checks/mcp.ts';
import { formatText } from '../../src/admin/doctor/print.ts';
import { exitStatus, runDoctor } from '../../src/admin/doctor/run.ts';
import type { Check, DoctorTarget } from '../../src/admin/doctor/types.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';

const DAY = 24 * 60 * 60 * 1000;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-doctor-unit-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function target(overrides: Partial<DoctorTarget> = {}): DoctorTarget {
  return {
    publicUrl: 'https://example.org',
    wikiSlug: 'alice',
    appUrl: 'http://127.0.0.1:3000',
    pdsUrl: 'https://bsky.social',
    documents: [],
    outboundPolicy: { allowPrivateAddresses: false },
    clientIdMetadataDocuments: true,
    platformKeysFile: '/nonexistent/platform-keys.json',
    atprotoClientKeysFile: '/nonexistent/atproto-client-keys.json',
    databaseFile: '/nonexistent/robot-auth.sqlite',
    db: () => {
      throw new Error('no database in this test');
    },
    backupDirs: [],
    backupMaxAgeDays: 2,
    keyMaxAgeDays: 90,
    tlsWarnDays: 14,
    timeoutMs: 2000,
    now: () => Date.now(),
    ...overrides,
  };
}

describe('the runner', () => {
  it('a check that never answers fails at its deadline; what requires it is skipped; a throw is a fail; exit 1', async () => {
    const checks: Check[] = [
      { name: 'hangs', title: 'never answers', run: () => new Promise(() => undefined) },
      { name: 'after', title: 'needs hangs', requires: ['hangs'], run: async () => ({ status: 'ok', seen: 'ran' }) },
      { name: 'throws', title: 'throws', run: async () => Promise.reject(new Error('boom')) },
      { name: 'fine', title: 'fine', run: async () => ({ status: 'warn', seen: 'meh', advice: 'do this' }) },
    ];
    const t0 = Date.now();
    const results = await runDoctor(target({ timeoutMs: 50 }), checks);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(results.map((r) => [r.name, r.status])).toEqual([['hangs', 'fail'], ['after', 'skip'], ['throws', 'fail'], ['fine', 'warn']]);
    expect(results[0]!.seen).toBe('no result within 100 ms');
    expect(results[1]!.seen).toBe('not run: hangs did not pass');
    expect(results[2]!.seen).toContain('boom');
    expect(exitStatus(results)).toBe(1);
    expect(exitStatus(results.filter((r) => r.status === 'warn'))).toBe(0);
    const text = formatText(results).split('\n');
    expect(text[0]).toMatch(/^fail {2}hangs {3}no result within 100 ms$/);
    expect(text).toContain('warn  fine    meh');
    expect(text).toContain('              → do this');
    expect(text.at(-1)).toBe('0 ok, 1 warn, 2 fail, 1 skipped');
  });
});

describe('clock', () => {
  async function serverWithDate(offsetMs: number): Promise<string> {
    const server = http.createServer((_req, res) => {
      res.sendDate = false;
      res.writeHead(200, { date: new Date(Date.now() + offsetMs).toUTCString(), 'content-type': 'application/json' });
      res.end('{"version":"test"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  it('ok within 5 s, warn past 5 s, fail past the 30 s leeway, with the time-sync advice', async () => {
    expect((await clockCheck.run(target({ pdsUrl: await serverWithDate(0) }))).status).toBe('ok');
    const warn = await clockCheck.run(target({ pdsUrl: await serverWithDate(-12_000) }));
    expect(warn.status).toBe('warn');
    const fail = await clockCheck.run(target({ pdsUrl: await serverWithDate(-120_000) }));
    expect(fail.status).toBe('fail');
    expect(fail.seen).toMatch(/local clock \+1(19|20|21) s against http:\/\/127\.0\.0\.1:\d+/);
    expect(fail.advice).toMatch(/timedatectl set-ntp true/);
  });

  it('an unreachable PDS is a warning that names another PDS to try, not a hang', async () => {
    const outcome = await clockCheck.run(target({ pdsUrl: 'http://127.0.0.1:1' }));
    expect(outcome.status).toBe('warn');
    expect(outcome.seen).toMatch(/refused the connection/);
    expect(outcome.advice).toMatch(/--pds URL/);
  });
});

describe('key age, backups, database', () => {
  it('key age: the key file last written past the policy is a warning with the rotation steps', async () => {
    const file = path.join(tempDir(), 'platform-keys.json');
    fs.writeFileSync(file, '{"keys":[]}');
    const old = new Date(Date.now() - 100 * DAY);
    fs.utimesSync(file, old, old);
    const warn = await keyAgeCheck.run(target({ platformKeysFile: file }));
    expect(warn.status).toBe('warn');
    expect(warn.seen).toMatch(/100 days ago/);
    expect(warn.advice).toMatch(/keys rotate.*systemctl reload robot-auth/);
    expect((await keyAgeCheck.run(target({ platformKeysFile: file, keyMaxAgeDays: 365 }))).status).toBe('ok');
  });

  it('key age with the keys in the database (PLATFORM_KEYS_KEK): the version row\'s last write, not a file', async () => {
    const db = openDatabase(path.join(tempDir(), 'robot-auth.sqlite'));
    cleanups.push(() => {
      db.close();
    });
    migrate(db);
    expect((await keyAgeCheck.run(target({ platformKeysKek: 'k'.repeat(43), db: () => db }))).status).toBe('fail');
    db.prepare('INSERT INTO platform_keys_version (id, version, updated_at) VALUES (1, 1, ?)').run(Math.floor((Date.now() - 100 * DAY) / 1000));
    const warn = await keyAgeCheck.run(target({ platformKeysKek: 'k'.repeat(43), db: () => db }));
    expect(warn.status).toBe('warn');
    expect(warn.seen).toBe('the platform keys in the database last rotated (written) 100 days ago');
  });

  it('backups: none is a warning; the newest of the backup directory and the pre-migration copies counts', async () => {
    const dir = tempDir();
    const backups = path.join(dir, 'backups');
    fs.mkdirSync(backups);
    const databaseFile = path.join(dir, 'robot-auth.sqlite');
    const none = await backupsCheck.run(target({ databaseFile, backupDirs: [backups] }));
    expect(none.status).toBe('warn');
    expect(none.advice).toMatch(/nightly backup timer/);
    const nightly = path.join(backups, 'robot-auth-20260101T031700Z.sqlite');
    fs.writeFileSync(nightly, '');
    const old = new Date(Date.now() - 3 * DAY);
    fs.utimesSync(nightly, old, old);
    const stale = await backupsCheck.run(target({ databaseFile, backupDirs: [backups] }));
    expect(stale.status).toBe('warn');
    expect(stale.seen).toMatch(/3\.0 days old/);
    fs.writeFileSync(`${databaseFile}.pre-migration-20260301T120000Z.sqlite`, '');
    const fresh = await backupsCheck.run(target({ databaseFile, backupDirs: [backups] }));
    expect(fresh.status).toBe('ok');
    expect(fresh.seen).toContain('pre-migration');
  });

  it('database: pending migrations fail with the restart advice; a migrated database is ok', async () => {
    const databaseFile = path.join(tempDir(), 'robot-auth.sqlite');
    const db: Db = openDatabase(databaseFile);
    cleanups.push(() => {
      db.close();
    });
    migrate(db, readMigrations().slice(0, 1));
    const pending = await databaseCheck.run(target({ databaseFile, db: () => db }));
    expect(pending.status).toBe('fail');
    expect(pending.seen).toMatch(/quick_check ok; pending migrations: /);
    expect(pending.advice).toMatch(/systemctl restart robot-auth/);
    migrate(db);
    expect(await databaseCheck.run(target({ databaseFile, db: () => db }))).toMatchObject({ status: 'ok' });
  });
});

describe('authParam', () => {
  it('reads quoted and token auth-params, not a parameter whose name merely ends the same', () => {
    const header = 'Bearer error="invalid_token", xresource_metadata="https://evil", resource_metadata="https://a.example.org/.well-known/oauth-protected-resource/mcp", scope=wiki:read';
    expect(authParam(header, 'resource_metadata')).toBe('https://a.example.org/.well-known/oauth-protected-resource/mcp');
    expect(authParam(header, 'scope')).toBe('wiki:read');
    expect(authParam('Bearer realm="x"', 'resource_metadata')).toBeUndefined();
  });
});

describe('the /mcp checks against a leaky proxy', () => {
  // Made-up names pinned to loopback in this worker (the production suite's preload, test/production/pin-hosts.mjs).
  async function pinNames(): Promise<void> {
    process.env.PINNED_HOST_SUFFIX = '.doctor.internal';
    const preload: string = pathToFileURL(path.resolve(import.meta.dirname, '../production/pin-hosts.mjs')).href;
    await import(preload);
  }

  /**
   * A wiki that trusts X-Auth-* behind a proxy that lets them through (no forward_auth): with the
   * forged headers it serves the request (200); without them its 401 points at `pointer`.
   */
  async function leakyWiki(pointer: (host: string) => string): Promise<number> {
    const server = http.createServer((req, res) => {
      if (req.headers['x-auth-wiki'] !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer error="invalid_token", resource_metadata="${pointer(req.headers.host ?? '')}"` }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as net.AddressInfo).port;
  }

  it('forged X-Auth-* headers that reach a wiki as a person fail the check with the urgent advice; a 401 passes', async () => {
    await pinNames();
    const port = await leakyWiki((host) => `http://${host}/.well-known/oauth-protected-resource/mcp`);
    const t = target({ publicUrl: `http://auth.doctor.internal:${port}` });
    const forged = await forgedHeadersCheck.run(t);
    expect(forged.status).toBe('fail');
    expect(forged.seen).toBe('forged identity headers without a token: 200');
    expect(forged.advice).toMatch(/^ANYONE CAN ACT AS ANY USER/);
    // Without the headers the same wiki answers a correct 401: that check passes.
    expect(await mcp401Check.run(t)).toMatchObject({ status: 'ok' });
  });

  it('a 401 whose resource_metadata points elsewhere fails mcp-401', async () => {
    await pinNames();
    const port = await leakyWiki(() => 'https://other.example/.well-known/oauth-protected-resource/mcp');
    const outcome = await mcp401Check.run(target({ publicUrl: `http://auth.doctor.internal:${port}` }));
    expect(outcome.status).toBe('fail');
    expect(outcome.seen).toContain('other.example');
    expect(outcome.advice).toMatch(/resource_metadata="http:\/\/alice\.auth\.doctor\.internal:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
  });
});
