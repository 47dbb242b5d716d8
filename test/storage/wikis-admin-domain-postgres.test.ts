// Wikis, the admin CLI and the purge on PostgreSQL (issue 12 item 2): createWikiForUser,
// deleteWikiForOwner and purgeNow themselves (not a copy of their unit of work), given a context
// whose `store` is a PostgreSQL store on a real server (test/support/postgres.ts). Two Store
// instances (two pools) stand for two app instances; rows are seeded through the stores' repositories.
//  - WIKIS_PER_USER and NEW_WIKIS_PER_DAY hold under concurrent creations across both instances
//    (wikis.lockCreation: without it, READ COMMITTED lets every creation see the same count);
//  - a deleted wiki's name is reserved for its owner across instances, and a double deletion
//    records the wiki once;
//  - the purge deletes on PostgreSQL exactly what it deletes on SQLite, from the same rows;
//  - `npm run admin -- users list | wikis create | audit` with DATABASE_URL work on PostgreSQL, each
//    command on one pool (its checks and its Store share it) that it ends once.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/admin/program.ts';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { migrate } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase } from '../../src/db/open.ts';
import { createSealer } from '../../src/lib/sealing.ts';
import { purgeNow } from '../../src/maintenance.ts';
import type { ClientMetadata } from '../../src/oauth/clients/client.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import type { Store } from '../../src/storage/store.ts';
import { createWikiForUser, type CreateWikiOutcome } from '../../src/wikis/create-wiki.ts';
import { deleteWikiForOwner } from '../../src/wikis/delete-wiki.ts';
import { createLogger } from '../../src/web/log.ts';
import { CLI, ROOT } from '../ops/server-process.ts';
import { captureIo } from '../support/cli-io.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { twoPostgresStores } from '../support/postgres-stores.ts';

let server: TestPostgres;
let dir: string;
let baseConfig: Config;
const opened: { end(): Promise<void> }[] = [];
const log = createLogger('silent');

beforeAll(async () => {
  server = await startPostgres();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-wikis-pg-'));
  baseConfig = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' });
}, 60_000);

afterAll(async () => {
  await Promise.all(opened.splice(0).map((o) => o.end()));
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh migrated PostgreSQL database and two stores on it (two app instances). */
async function twoInstances(): Promise<{ url: string; a: Store; b: Store; count(sql: string, ...args: unknown[]): Promise<number> }> {
  const stores = await twoPostgresStores(server, 8);
  opened.push({ end: () => stores.close() });
  return { url: stores.url, a: stores.a, b: stores.b, count: stores.number };
}

async function person(store: Store, username: string): Promise<string> {
  const did = `did:plc:${username}`;
  const user = await store.repos.users.insertWithFirstWiki({ did, handle: `${username}.test`, displayName: null, username });
  if (user === 'taken') throw new Error(`seed: ${username} taken`);
  return did;
}

const deps = (store: Store, config: Partial<Config>) => ({ store, log, config: { ...baseConfig, ...config } });
const kinds = (outcomes: CreateWikiOutcome[]) => outcomes.map((o) => o.kind).sort();

describe('creating wikis on two instances at once', () => {
  it('WIKIS_PER_USER is not exceeded: of 12 concurrent creations by one person with 1 of 3 wikis, 2 succeed', async () => {
    const { a, b, count } = await twoInstances();
    const did = await person(a, 'busy');
    const config = { wikisPerUser: 3, newWikisPerDay: 1000 };
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => createWikiForUser(deps(i % 2 === 0 ? a : b, config), did, `busy-${i}`)),
    );
    expect(outcomes.filter((o) => o.kind === 'created')).toHaveLength(2);
    expect(outcomes.filter((o) => o.kind === 'refused')).toEqual(Array(10).fill(expect.objectContaining({ status: 403 })));
    expect(await count('SELECT count(*) AS n FROM wikis WHERE owner_did = $1', did)).toBe(3);
  });

  it('NEW_WIKIS_PER_DAY is not exceeded: with 3 left in the window, 12 concurrent creations by different people give 3 wikis', async () => {
    const { a, b, count } = await twoInstances();
    const dids = await Promise.all(Array.from({ length: 12 }, (_, i) => person(a, `capped${i}`)));
    // 12 first wikis are in the window already: 3 more may be created today.
    const config = { wikisPerUser: 5, newWikisPerDay: 15 };
    const outcomes = await Promise.all(dids.map((did, i) => createWikiForUser(deps(i % 2 === 0 ? a : b, config), did, `capped${i}-notes`)));
    expect(kinds(outcomes)).toEqual([...Array(3).fill('created'), ...Array(9).fill('paused')]);
    expect(await count('SELECT count(*) AS n FROM wikis')).toBe(15);
  });

  it('one name asked for by two people at once on two instances: one wiki, the other told it is taken', async () => {
    const { a, b, count } = await twoInstances();
    const [one, two] = await Promise.all([person(a, 'first'), person(a, 'second')]);
    const config = { wikisPerUser: 3, newWikisPerDay: 1000 };
    const outcomes = await Promise.all([createWikiForUser(deps(a, config), one, 'shared'), createWikiForUser(deps(b, config), two, 'shared')]);
    expect(kinds(outcomes)).toEqual(['created', 'refused']);
    expect(outcomes.find((o) => o.kind === 'refused')).toMatchObject({ status: 409 });
    expect(await count("SELECT count(*) AS n FROM wikis WHERE slug = 'shared'")).toBe(1);
  });
});

describe('deleting a wiki on PostgreSQL', () => {
  it('reserves the name across instances: deleted on one, a stranger cannot take it on the other; the owner can', async () => {
    const { a, b, count } = await twoInstances();
    const [owner, stranger] = await Promise.all([person(a, 'owner'), person(a, 'stranger')]);
    const config = { wikisPerUser: 3, newWikisPerDay: 1000, deletedSlugReserveDays: 30 };
    expect(await createWikiForUser(deps(a, config), owner, 'notes')).toEqual({ kind: 'created', slug: 'notes' });
    await a.repos.grants.insert({ id: 'grant-notes', clientId: (await a.repos.clients.insertRegistered(metadata, null)).clientId, userDid: owner, wikiSlug: 'notes', resource: 'https://notes.localhost/mcp', scope: 'wiki:read', expiresAt: nowSeconds() + 3600 });
    expect(await deleteWikiForOwner(deps(b, config), owner, 'notes', 'notes')).toEqual({ kind: 'deleted', slug: 'notes', grantsRevoked: 1 });
    expect(await createWikiForUser(deps(a, config), stranger, 'notes')).toMatchObject({ kind: 'refused', status: 409, problem: expect.stringContaining('reserved until') });
    expect(await count("SELECT count(*) AS n FROM wikis WHERE slug = 'notes'")).toBe(0);
    expect(await createWikiForUser(deps(b, config), owner, 'notes')).toEqual({ kind: 'created', slug: 'notes' });
    expect(await count("SELECT count(*) AS n FROM reserved_names WHERE name = 'notes'")).toBe(0);
  });

  it('two deletions of one wiki at once on two instances: one deletes, the other finds nothing; recorded once', async () => {
    const { a, b, count } = await twoInstances();
    const owner = await person(a, 'twice');
    const config = { wikisPerUser: 3, newWikisPerDay: 1000, deletedSlugReserveDays: 30 };
    await createWikiForUser(deps(a, config), owner, 'twice-notes');
    const outcomes = await Promise.all([
      deleteWikiForOwner(deps(a, config), owner, 'twice-notes', 'twice-notes'),
      deleteWikiForOwner(deps(b, config), owner, 'twice-notes', 'twice-notes'),
    ]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['deleted', 'refused']);
    expect(outcomes.find((o) => o.kind === 'refused')).toMatchObject({ status: 404 });
    expect(await count("SELECT count(*) AS n FROM deleted_wikis WHERE slug = 'twice-notes'")).toBe(1);
  });
});

const metadata = {
  redirect_uris: ['https://app.example/cb'],
  client_name: 'purge client',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
} as ClientMetadata;

/** The same rows in either store: for each purged table one row past its time and one that must stay. */
async function seedForPurge(store: Store): Promise<void> {
  const now = nowSeconds();
  const did = await person(store, 'purged');
  const keep = await person(store, 'kept');
  const client = await store.repos.clients.insertRegistered(metadata, null);
  await store.repos.sessions.insert('expired-session', did, -10, null);
  await store.repos.sessions.insert('live-session', keep, 3600, null);
  await store.repos.tickets.issue('signup', did, { handle: 'x' }, -10);
  await store.repos.tickets.issue('signup', keep, { handle: 'y' }, 600);
  await store.repos.grants.insert({ id: 'grant-expired', clientId: client.clientId, userDid: did, wikiSlug: 'purged', resource: 'https://purged.localhost/mcp', scope: 'wiki:read', expiresAt: now - 10 });
  await store.repos.grants.insert({ id: 'grant-live', clientId: client.clientId, userDid: keep, wikiSlug: 'kept', resource: 'https://kept.localhost/mcp', scope: 'wiki:read', expiresAt: now + 3600 });
  await store.repos.refreshTokens.insert('grant-live', -10);
  await store.repos.refreshTokens.insert('grant-live', 3600);
  await store.repos.revokedAccessTokens.add('old-jti', now - 1);
  await store.repos.revokedAccessTokens.add('new-jti', now + 300);
  await store.repos.clientAssertionJtis.use(client.clientId, 'old-hash', now - 1);
  await store.repos.clientAssertionJtis.use(client.clientId, 'new-hash', now + 60);
  await store.repos.reservedNames.reserve('gone-name', 1, 'wiki_deleted', null, now - 2 * 86400);
  await store.repos.reservedNames.reserve('held-name', 30, 'wiki_deleted', null, now);
  await store.repos.audit.insert({ event: 'sign_in', did }, now - 100 * 86400);
  await store.repos.audit.insert({ event: 'sign_in', did: keep }, now);
  // A client that never obtained a token, long ago (the registration time is set by the store).
  await store.repos.clients.insertRegistered({ ...metadata, client_name: 'unused' }, null);
}

describe('the purge on PostgreSQL', () => {
  it('deletes the same rows as on SQLite (purgeNow on each store, same seeded rows, same counts)', async () => {
    const { a } = await twoInstances();
    const file = path.join(dir, 'purge.sqlite');
    const db = openDatabase(file);
    migrate(db);
    const sqlite = createSqliteStore(db);
    opened.push({ end: () => sqlite.close() });
    await seedForPurge(a);
    await seedForPurge(sqlite);
    const sealer = createSealer([{ kid: 'purge-test', d: Buffer.alloc(32, 7).toString('base64url') }]);
    // Unused clients: purged 0 s after they appeared, so the one without a token goes.
    const config = { ...baseConfig, unusedClientPurgeSeconds: 0 };
    const onPostgres = await purgeNow({ store: a, sealer, log, config });
    const onSqlite = await purgeNow({ store: sqlite, sealer, log, config });
    expect(onPostgres).toEqual(onSqlite);
    expect(onSqlite).toMatchObject({
      sessions: 1,
      sign_in_tickets: 1,
      oauth_grants: 1,
      refresh_tokens: 1,
      revoked_access_tokens: 1,
      client_assertion_jtis: 1,
      reserved_names: 1,
      audit_log: 1,
      oauth_clients: 1,
    });
    // And what stays, stays.
    expect(await a.repos.sessions.isLive('live-session', 'did:plc:kept')).toBe(true);
    expect(await a.repos.reservedNames.find('held-name')).toBeDefined();
    expect(await a.repos.grants.findLive('grant-live')).toBeDefined();
  });
});

describe('the admin CLI with DATABASE_URL', () => {
  async function cli(url: string, ...argv: string[]) {
    const capture = captureIo({ DATA_DIR: dir, LOG_LEVEL: 'silent', DATABASE_URL: url }, dir);
    const status = await runCli(argv, capture.io);
    return { status, stdout: capture.stdout(), stderr: capture.stderr() };
  }

  it('users list, wikis create and audit read and write PostgreSQL (no SQLite file needed)', async () => {
    const { url, a, count } = await twoInstances();
    const did = await person(a, 'operated');
    await a.repos.sessions.insert('cli-session', did, 3600, null);
    // No SQLite database exists under DATA_DIR for this: everything comes from PostgreSQL.
    expect(fs.existsSync(baseConfig.databaseFile)).toBe(false);

    const users = await cli(url, 'users', 'list', '--json');
    expect(users.stderr).toBe('');
    expect(JSON.parse(users.stdout)).toEqual([expect.objectContaining({ username: 'operated', did, wikis: 1, live_sessions: 1 })]);

    const created = await cli(url, 'wikis', 'create', 'operated-docs', '--user', 'operated');
    expect(created).toMatchObject({ status: 0, stderr: '' });
    expect(created.stdout).toContain('Created the wiki operated-docs for operated');
    expect(await count("SELECT count(*) AS n FROM wikis WHERE slug = 'operated-docs' AND created_by = 'operator'")).toBe(1);
    expect((await cli(url, 'wikis', 'create', 'operated-docs', '--user', 'operated')).stderr).toMatch(/already exists/);

    const audit = await cli(url, 'audit', '--did', did, '--json');
    expect(audit.status).toBe(0);
    expect(JSON.parse(audit.stdout)).toEqual([expect.objectContaining({ event: 'admin_action', actor: 'admin', wiki_slug: 'operated-docs', detail: { command: 'wikis create', user: 'operated' } })]);

    // The real command line, as an operator runs it (`npm run admin -- users list`).
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'users', 'list'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dir, LOG_LEVEL: 'silent', DATABASE_URL: url },
    });
    expect(stdout).toMatch(new RegExp(`^USERNAME\\s+DID.*\\noperated\\s+${did}\\s+operated\\.test\\s+2\\s+1\\s+0\\s`));
  });

  it('one command opens one pool: blocked mid-command it holds one connection, and closing ends that pool once', async () => {
    const { url, a } = await twoInstances();
    const did = await person(a, 'pooled');
    const observer = new pg.Client({ connectionString: url, application_name: 'test-observer' });
    const holder = new pg.Client({ connectionString: url, application_name: 'test-holder' });
    await observer.connect();
    await holder.connect();
    try {
      const ours = async () =>
        (await observer.query<{ pid: number; waiting: boolean }>("SELECT pid, wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'robot-auth'")).rows;
      const before = new Set((await ours()).map((r) => r.pid)); // the two stores' and the helper's connections
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const run = cli(url, 'users', 'list', '--json');
      let cliConnections: { pid: number; waiting: boolean }[] = [];
      for (let i = 0; i < 200 && !cliConnections.some((r) => r.waiting); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        cliConnections = (await ours()).filter((r) => !before.has(r.pid));
      }
      expect(cliConnections.some((r) => r.waiting), 'the command waits on the lock').toBe(true);
      // The reachability and migration checks ran on the same connection the listing now waits on:
      // no second pool (its idle connection would be a second row here).
      expect(cliConnections).toHaveLength(1);
      await holder.query('ROLLBACK');
      const listed = await run; // close() ending the pool twice would reject here
      expect(listed).toMatchObject({ status: 0, stderr: '' });
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ username: 'pooled', did })]);
      for (let i = 0; i < 200 && (await ours()).some((r) => !before.has(r.pid)); i++) await new Promise((resolve) => setTimeout(resolve, 25));
      expect((await ours()).filter((r) => !before.has(r.pid)), 'the command left no connection open').toEqual([]);
    } finally {
      await holder.end();
      await observer.end();
    }
  });

  it('backup create says the data is in PostgreSQL instead of failing on a missing file', async () => {
    const { url } = await twoInstances();
    const { status, stderr } = await cli(url, 'backup', 'create', path.join(dir, 'copy.sqlite'));
    expect(status).toBe(1);
    expect(stderr).toMatch(/DATABASE_URL is set: the service's data is in PostgreSQL .*pg_dump/);
  });

  it('doctor checks PostgreSQL instead of the SQLite file: reachable and migrated, or what is pending', async () => {
    const { url } = await twoInstances();
    const database = async (target: string) => {
      const run = await cli(target, 'doctor', '--json', '--timeout', '300', '--app', 'http://127.0.0.1:1', '--pds', 'http://127.0.0.1:1');
      const { checks } = JSON.parse(run.stdout) as { checks: { name: string; status: string; seen: string }[] };
      return Object.fromEntries(checks.filter((c) => c.name === 'database' || c.name === 'backups').map((c) => [c.name, c]));
    };
    const migrated = await database(url);
    expect(migrated.database).toMatchObject({ status: 'ok', seen: expect.stringContaining('reachable (PostgreSQL), no pending migration') });
    expect(migrated.backups).toMatchObject({ status: 'warn', seen: expect.stringContaining('the data is in PostgreSQL') });
    const empty = await database(await server.createDatabase());
    expect(empty.database).toMatchObject({ status: 'fail', seen: expect.stringContaining('pending migrations: 001-') });
  });

  it('refuses a PostgreSQL schema with pending migrations, saying what to run', async () => {
    const url = await server.createDatabase();
    const { status, stderr } = await cli(url, 'users', 'list');
    expect(status).toBe(1);
    expect(stderr).toMatch(/schema of .* is older than this code .*npm run admin -- migrate/);
  });
});
