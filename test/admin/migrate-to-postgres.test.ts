// `admin migrate-to-postgres --to URL` (src/admin/migrate-to-postgres.ts) against a real PostgreSQL
// server: a seeded SQLite database (every table holds rows) is copied and verified with equal
// counts and checksums; a row changed or deleted afterwards is detected; a non-empty target is
// refused untouched; a failure mid-copy leaves the target without a row, and a second run after the
// fix succeeds; rows the migrations insert do not make a target non-empty. Also `admin migrate` and
// `admin status` on both stores.
import fs from 'node:fs';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/admin/program.ts';
import os from 'node:os';
import path from 'node:path';
import { migrateToPostgres } from '../../src/admin/migrate-to-postgres.ts';
import { migrate, readMigrations, type Migration } from '../../src/db/migrate.ts';
import { migratePostgres, readPostgresMigrations } from '../../src/db/postgres/migrate.ts';
import { nowSeconds, openDatabase } from '../../src/db/open.ts';
import { createCodesRepo } from '../../src/oauth/authorize/codes.repo.ts';
import { onMigrateSetup } from '../support/migrate-setup.ts';
import { captureIo } from '../support/cli-io.ts';
import { seedClient, seedGrant, seedSession, seedUser } from '../support/seed.ts';

const setup = onMigrateSetup({ sqlite: true });

async function cli(env: Record<string, string>, ...argv: string[]) {
  const capture = captureIo({ DATA_DIR: setup.t.dir, LOG_LEVEL: 'silent', ...env }, setup.t.dir);
  const status = await runCli(argv, capture.io);
  return { status, stdout: capture.stdout(), stderr: capture.stderr() };
}
const copy = (url: string, ...more: string[]) => cli({}, 'migrate-to-postgres', '--to', url, ...more);

/** What a running deployment holds: a row in every table, through the repositories where they exist. */
async function seedEverything(): Promise<void> {
  const db = setup.t.db;
  const now = nowSeconds();
  const alice = await seedUser(setup.t, 'Alice');
  const bob = await seedUser(setup.t, 'bob');
  const clientId = await seedClient(setup.t);
  await seedClient(setup.t, 'Cursor — “quotes” ünïcode');
  // A fetched client ID metadata document.
  db.prepare("INSERT INTO oauth_clients (client_id, kind, metadata, created_at, fetched_at, stale_at) VALUES ('https://claude.ai/oauth/client.json', 'metadata_document', '{\"client_name\":\"Claude\"}', ?, ?, ?)").run(now, now, now + 3600);
  const grants = [];
  for (let i = 0; i < 25; i++) grants.push(await seedGrant(setup.t, setup.t.config, { did: alice.did, slug: 'alice', clientId }));
  await seedGrant(setup.t, setup.t.config, { did: bob.did, slug: 'bob', clientId });
  db.prepare("UPDATE refresh_tokens SET rotated_at = ?, successor_hash = 'succ', successor_sealed = 'sealed.value' WHERE grant_id = ?").run(now, grants[0]!.grantId);
  createCodesRepo(db).insert({ clientId, userDid: alice.did, wikiSlug: 'alice', redirectUri: 'http://localhost:54321/callback', redirectUriSent: true, codeChallenge: 'c'.repeat(43), resource: 'http://alice.localhost:3000/mcp', scope: 'wiki:read' });
  db.prepare("UPDATE authorization_codes SET consumed_at = ?, grant_id = ?").run(now, grants[1]!.grantId);
  for (let i = 0; i < 7; i++) await seedSession(setup.t, alice.did);
  db.prepare("UPDATE sessions SET last_seen_at = ?, user_agent = NULL WHERE rowid = 1").run(now);
  db.prepare('INSERT INTO authorization_requests (id_hash, client_id, params, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run('req1', clientId, '{"state":"x"}', now, now + 600);
  db.prepare('INSERT INTO atproto_auth_states (key, value, created_at, app_state_hash) VALUES (?, ?, ?, ?)').run('state1', 'sealed:v1:abc', now, 'h1');
  db.prepare('INSERT INTO atproto_sessions (did, value, updated_at) VALUES (?, ?, ?)').run(alice.did, 'sealed:v1:def', now);
  db.prepare("INSERT INTO sign_in_tickets (hash, kind, did, payload, expires_at) VALUES ('t1', 'signup', ?, '{}', ?)").run(bob.did, now + 60);
  db.prepare('INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)').run('jti1', now + 300);
  // Platform keys in the database (PLATFORM_KEYS_KEK, migration 016): opaque sealed values here.
  db.prepare('INSERT INTO platform_keys (kid, position, sealed_jwk, created_at) VALUES (?, ?, ?, ?)').run('kid1', 0, 'v1.a2lkMQ.iv.body', now);
  db.prepare('INSERT INTO platform_keys_version (id, version, updated_at) VALUES (1, 1, ?)').run(now);
  db.prepare('INSERT INTO client_assertion_jtis (client_id, jti_hash, expires_at) VALUES (?, ?, ?)').run(clientId, 'jh', now + 60);
  db.prepare("INSERT INTO reserved_names (name, reserved_until, reason, held_for_did) VALUES ('OldWiki', ?, 'wiki_deleted', ?)").run(now + 86400, alice.did);
  db.prepare("INSERT INTO deleted_wikis (slug, owner_did, owner_username, created_at, deleted_at, reason, grants_revoked) VALUES ('oldwiki', ?, 'alice', 1, ?, 'owner', 3)").run(alice.did, now);
  // Two identical rows (no primary key): the checksum must count both.
  for (let i = 0; i < 2; i++) db.prepare("INSERT INTO deleted_users (did, username, created_at, deleted_at, wikis, grants_revoked, sessions_revoked, pds_revoked) VALUES ('did:plc:gone', 'gone', 1, 2, '[\"gone\"]', 0, 1, 1)").run();
  const audit = db.prepare('INSERT INTO audit_log (at, event, did, client_id, wiki_slug, actor, address, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  for (let i = 0; i < 40; i++) audit.run(now - i, 'token_issued', alice.did, clientId, 'alice', 'client', '127.0.0.1', JSON.stringify({ i, big: 2 ** 40 + i }));
  audit.run(now, 'admin_action', null, null, null, 'admin', null, null);
  db.prepare('DELETE FROM audit_log WHERE id = 3').run(); // a gap in the ids
}

const sqliteCount = (table: string) => (setup.t.db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
const sqliteTables = () =>
  (setup.t.db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
async function postgresCounts(p: pg.Pool): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of sqliteTables()) {
    const exists = (await p.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table])).rows[0]!.t;
    counts[table] = exists ? (await p.query<{ n: number }>(`SELECT count(*) AS n FROM "${table}"`)).rows[0]!.n : -1;
  }
  return counts;
}

describe('admin migrate-to-postgres', () => {
  it('copies every table of a live database and verifies equal counts and checksums', async () => {
    await seedEverything();
    for (const table of sqliteTables()) expect(sqliteCount(table), `${table} is seeded`).toBeGreaterThan(0);
    const url = await setup.server.createDatabase();
    const { status, stdout, stderr } = await copy(url, '--batch-size', '4');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain(`PostgreSQL migrations applied: ${readMigrations().map((m) => m.name).join(', ')}`);
    expect(stdout).toMatch(/^TABLE\s+SQLITE ROWS\s+POSTGRES ROWS\s+SQLITE CHECKSUM\s+POSTGRES CHECKSUM\s+OK$/m);
    for (const table of sqliteTables()) {
      const n = sqliteCount(table);
      expect(stdout).toMatch(new RegExp(`^${table}\\s+${n}\\s+${n}\\s+([0-9a-f]{32})\\s+\\1\\s+ok$`, 'm'));
    }
    expect(stdout).toContain('verified: every table has the same rows on both sides.');

    const p = setup.pool(url);
    expect(await postgresCounts(p)).toEqual(Object.fromEntries(sqliteTables().map((table) => [table, sqliteCount(table)])));
    // The client counts were recounted by the triggers and equal SQLite's.
    expect((await p.query('SELECT name, n FROM oauth_client_counts ORDER BY name')).rows).toEqual(setup.t.db.prepare('SELECT name, n FROM oauth_client_counts ORDER BY name').all());
    // Values survive exactly, NULLs stay NULL, and a username keeps its case but compares without it.
    expect((await p.query("SELECT username FROM users WHERE username = 'alice'")).rows).toEqual([{ username: 'Alice' }]);
    const maxId = (setup.t.db.prepare('SELECT max(id) AS m FROM audit_log').get() as { m: number }).m;
    // The identity sequence was moved past the copied ids: the next row does not collide.
    const next = await p.query<{ id: number }>("INSERT INTO audit_log (at, event) VALUES (1, 'x') RETURNING id");
    expect(next.rows[0]!.id).toBe(maxId + 1);
  });

  it('detects a row changed or deleted on PostgreSQL after the copy (--verify-only), and exits 1', async () => {
    await seedEverything();
    const url = await setup.server.createDatabase();
    expect((await copy(url)).status).toBe(0);
    const p = setup.pool(url);
    const again = await copy(url, '--verify-only');
    expect(again.status).toBe(0);
    await p.query("UPDATE refresh_tokens SET expires_at = expires_at + 1 WHERE hash = (SELECT min(hash) FROM refresh_tokens)");
    await p.query('DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)');
    await p.query("DELETE FROM deleted_users WHERE ctid = (SELECT min(ctid) FROM deleted_users)"); // one of two identical rows
    const { status, stdout } = await copy(url, '--verify-only');
    expect(status).toBe(1);
    const mismatched = stdout.split('\n').filter((l) => l.endsWith('MISMATCH')).map((l) => l.split(/\s+/)[0]);
    expect(mismatched.sort()).toEqual(['audit_log', 'deleted_users', 'refresh_tokens']);
    const refresh = stdout.split('\n').find((l) => l.startsWith('refresh_tokens'))!.split(/\s+/);
    expect(refresh[1]).toBe(refresh[2]); // same count: only the checksum tells
    expect(stdout).toContain('MISMATCH in audit_log, deleted_users, refresh_tokens: do not switch to PostgreSQL.');
  });

  it('refuses a target that holds rows, or tables that are not robot-auth, and writes nothing to it', async () => {
    await seedEverything();
    const url = await setup.server.createDatabase();
    expect((await copy(url)).status).toBe(0);
    const p = setup.pool(url);
    const before = await postgresCounts(p);
    const second = await copy(url);
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/The PostgreSQL database is not empty: .*users.* hold rows/);
    expect(await postgresCounts(p)).toEqual(before);

    const foreign = await setup.server.createDatabase();
    const q = setup.pool(foreign);
    await q.query('CREATE TABLE invoices (id int)');
    const third = await copy(foreign);
    expect(third.status).toBe(1);
    expect(third.stderr).toContain("holds tables that are not robot-auth's (invoices)");
    expect((await q.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows).toEqual([{ tablename: 'invoices' }]);
  });

  it('rolls the whole copy back when a row fails half-way, then copies after the fix', async () => {
    await seedEverything();
    // PostgreSQL text cannot hold NUL, SQLite's can: sessions come late in the copy order.
    setup.t.db.prepare("UPDATE sessions SET user_agent = 'curl' || char(0) || 'evil' WHERE rowid = 2").run();
    const url = await setup.server.createDatabase();
    const failed = await copy(url);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('Copying sessions failed, and nothing was copied: the whole copy was rolled back');
    expect(failed.stderr).toMatch(/run the command again/);
    const p = setup.pool(url);
    // Exactly what the migrations alone leave (the two zero counts of migration 005): no copied row.
    const fresh = await setup.emptyDatabase();
    await migratePostgres(fresh);
    expect(await postgresCounts(p)).toEqual(await postgresCounts(fresh));
    expect((await p.query('SELECT count(*) AS n FROM users')).rows[0]).toEqual({ n: 0 });
    expect((await p.query<{ total: number }>('SELECT sum(n)::bigint AS total FROM oauth_client_counts')).rows[0]!.total).toBe(0);

    setup.t.db.prepare("UPDATE sessions SET user_agent = 'curl' WHERE rowid = 2").run();
    const retried = await copy(url);
    expect(retried.stderr).toBe('');
    expect(retried.status).toBe(0);
    expect(retried.stdout).not.toContain('PostgreSQL migrations applied'); // the schema stayed from the first run
  });

  it('refuses a SQLite database on an older schema, before touching the target', async () => {
    const old = openDatabase(`${setup.t.dir}/old.sqlite`);
    migrate(old, readMigrations().slice(0, 2));
    old.close();
    const url = await setup.server.createDatabase();
    const { status, stderr } = await cli({ DATABASE_FILE: `${setup.t.dir}/old.sqlite` }, 'migrate-to-postgres', '--to', url);
    expect(status).toBe(1);
    expect(stderr).toContain('The SQLite database is older than this release (pending: 003-foreign-key-indexes.sql');
    expect((await setup.pool(url).query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'")).rows[0]).toEqual({ n: 0 });
  });

  it('leaves no snapshot file behind', async () => {
    await seedEverything();
    await copy(await setup.server.createDatabase());
    expect(fs.readdirSync(setup.t.dir).filter((f) => f.includes('to-postgres'))).toEqual([]);
  });
});

describe('rows the migrations themselves insert (a version singleton, like a later release may add)', () => {
  function withSingleton(): { sqlite: Migration[]; postgres: Migration[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-seeded-'));
    fs.mkdirSync(path.join(dir, 'postgres'));
    fs.writeFileSync(path.join(dir, '900-version.sql'), 'CREATE TABLE test_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL) STRICT; INSERT INTO test_version VALUES (1, 0);');
    fs.writeFileSync(path.join(dir, 'postgres', '900-version.sql'), 'CREATE TABLE test_version (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL); INSERT INTO test_version VALUES (1, 0);');
    const extra = { sqlite: readMigrations(dir), postgres: readMigrations(path.join(dir, 'postgres')) };
    fs.rmSync(dir, { recursive: true });
    return { sqlite: [...readMigrations(), ...extra.sqlite], postgres: [...readPostgresMigrations(), ...extra.postgres] };
  }

  it("count as empty, and make way for the deployment's own row", async () => {
    const migrations = withSingleton();
    migrate(setup.t.db, migrations.sqlite);
    await seedEverything();
    setup.t.db.prepare('UPDATE test_version SET version = 7').run();
    const url = await setup.server.createDatabase();
    const p = setup.pool(url);
    await migratePostgres(p, migrations.postgres); // an instance already created the schema: still empty
    const result = await migrateToPostgres({ db: setup.t.db, databaseFile: setup.t.config.databaseFile, pool: p }, { migrations });
    expect(result.ok).toBe(true);
    expect(result.checks.find((c) => c.table === 'test_version')).toMatchObject({ sqliteRows: 1, postgresRows: 1, ok: true });
    expect((await p.query('SELECT id, version FROM test_version')).rows).toEqual([{ id: 1, version: 7 }]);
  });

  it('but a changed one is data: the target is refused', async () => {
    const migrations = withSingleton();
    migrate(setup.t.db, migrations.sqlite);
    const url = await setup.server.createDatabase();
    const p = setup.pool(url);
    await migratePostgres(p, migrations.postgres);
    await p.query('UPDATE test_version SET version = 3');
    await expect(migrateToPostgres({ db: setup.t.db, databaseFile: setup.t.config.databaseFile, pool: p }, { migrations })).rejects.toThrow(
      'The PostgreSQL database is not empty: test_version hold rows.',
    );
  });
});

describe('admin migrate and status on both stores', () => {
  it('migrate applies the PostgreSQL migrations when DATABASE_URL is set, once, and status shows them', async () => {
    const url = await setup.server.createDatabase();
    const first = await cli({ DATABASE_URL: url }, 'migrate');
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe(`${url}: applied ${readMigrations().map((m) => m.name).join(', ')}.`);
    expect((await cli({ DATABASE_URL: url }, 'migrate')).stdout).toBe(`${url}: up to date, nothing to apply.`);
    const status = await cli({ DATABASE_URL: url }, 'status', '--json');
    expect(JSON.parse(status.stdout).postgres).toEqual({ database: url, applied: readMigrations().map((m) => m.name), pending: [] });
  });

  it('migrate on SQLite backs a database that holds data up first, as start-up does', async () => {
    const file = `${setup.t.dir}/older.sqlite`;
    const old = openDatabase(file);
    migrate(old, readMigrations().slice(0, 2));
    old.prepare("INSERT INTO users (did, handle, username, created_at, last_login_at) VALUES ('did:plc:x', 'x.test', 'x', 1, 1)").run();
    old.close();
    const { status, stdout } = await cli({ DATABASE_FILE: file }, 'migrate');
    expect(status).toBe(0);
    expect(stdout).toMatch(new RegExp(`applied ${readMigrations().slice(2).map((m) => m.name).join(', ')} \\(backup first: .*pre-migration.*\\)`));
    expect((await cli({ DATABASE_FILE: file }, 'migrate')).stdout).toBe(`${file}: up to date, nothing to apply.`);
  });

  it('says what to check when the PostgreSQL server is unreachable', async () => {
    const { status, stderr } = await cli({ DATABASE_URL: 'postgres://u:pw@127.0.0.1:1/none' }, 'migrate');
    expect(status).toBe(1);
    expect(stderr).toMatch(/^Cannot connect to PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/none: .*Check that the server is running/);
  });
});

