// Backups: SQLite online backup while another connection keeps writing, one self-contained file
// (mode 0600, never overwriting), `backup verify` that only reads, and a restore that a fresh
// service start accepts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupDatabase, verifyBackup } from '../../src/db/backup.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { runCli } from '../../src/admin/program.ts';
import { startTestApp } from '../support/app.ts';
import { captureIo } from '../support/cli-io.ts';
import { seedClient, seedUser, tempData, type TempData } from '../support/seed.ts';

let t: TempData;
beforeEach(async () => {
  t = tempData();
  await seedUser(t, 'alice');
  await seedUser(t, 'bob');
});
afterEach(() => t.cleanup());

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const count = (db: Db, table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('backupDatabase', () => {
  it('takes a consistent copy while another connection keeps writing', async () => {
    // Enough rows that the copy takes several steps, and a second connection (the server) writing between them.
    const insert = t.db.prepare("INSERT INTO atproto_auth_states (key, value, created_at) VALUES (?, ?, 0)");
    t.db.transaction(() => {
      for (let i = 0; i < 3000; i++) insert.run(`k${i}`, 'x'.repeat(500));
    })();
    const server = openDatabase(t.config.databaseFile);
    const serverStore = createSqliteStore(server, { closeDatabase: false });
    let writes = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await seedClient(serverStore, `client ${writes++}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const file = path.join(t.dir, 'backups', 'copy.sqlite');
    const result = await backupDatabase(t.db, file);
    writing = false;
    await writer;
    server.close();

    expect(writes).toBeGreaterThan(0);
    expect(result.file).toBe(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['copy.sqlite']);
    const verified = verifyBackup(file);
    expect(verified).toMatchObject({ ok: true, problems: [], pending: [], unknown: [] });
    expect(verified.counts.users).toBe(2);
    expect(verified.counts.oauth_clients).toBeLessThanOrEqual(writes);
    const copy = openDatabase(file);
    expect(count(copy, 'atproto_auth_states')).toBe(3000);
    copy.close();
  });

  it('writes a rollback-journal file (no -wal needed) and refuses to overwrite an existing file', async () => {
    const file = path.join(t.dir, 'copy.sqlite');
    await backupDatabase(t.db, file);
    // Byte 18 of the header: 1 = rollback journal, 2 = WAL.
    expect(fs.readFileSync(file)[18]).toBe(1);
    const before = sha(file);
    await expect(backupDatabase(t.db, file)).rejects.toThrow(/EEXIST/);
    expect(sha(file)).toBe(before);
  });
});

describe('verifyBackup', () => {
  it('lists the migration versions and row counts, and opens the file read-only', async () => {
    const file = path.join(t.dir, 'copy.sqlite');
    await backupDatabase(t.db, file);
    const before = sha(file);
    const result = verifyBackup(file);
    expect(result.ok).toBe(true);
    expect(result.migrations.map((m) => [m.version, m.name])).toEqual(readMigrations().map((m) => [m.version, m.name]));
    expect(result.counts).toMatchObject({ users: 2, wikis: 2, oauth_clients: 0 });
    expect(sha(file)).toBe(before);
    expect(fs.readdirSync(t.dir).filter((f) => f.startsWith('copy'))).toEqual(['copy.sqlite']);
  });

  it('names the migrations a copy of an older schema lacks', () => {
    const file = path.join(t.dir, 'old.sqlite');
    const old = openDatabase(file);
    migrate(old, readMigrations().slice(0, 1));
    old.close();
    expect(verifyBackup(file)).toMatchObject({ ok: true, pending: readMigrations().slice(1).map((m) => m.name), unknown: [] });
  });

  it('reports a damaged file, a file that is not SQLite and a missing file as not ok', async () => {
    const file = path.join(t.dir, 'copy.sqlite');
    await backupDatabase(t.db, file);
    const damaged = path.join(t.dir, 'damaged.sqlite');
    const bytes = fs.readFileSync(file);
    // Scribble over every page but the first (the schema stays readable, the b-trees do not).
    for (let offset = 4096; offset < bytes.length; offset += 4096) bytes.fill(0x5a, offset + 8, offset + 200);
    fs.writeFileSync(damaged, bytes);
    const result = verifyBackup(damaged);
    expect(result.ok).toBe(false);
    expect(result.problems.length).toBeGreaterThan(0);

    const text = path.join(t.dir, 'notes.txt');
    fs.writeFileSync(text, 'this is not a database, just some text long enough to have a header '.repeat(20));
    expect(verifyBackup(text)).toMatchObject({ ok: false, problems: [expect.stringMatching(/not a database/)] });
    expect(verifyBackup(path.join(t.dir, 'missing.sqlite'))).toMatchObject({ ok: false });
  });
});

describe('backup commands', () => {
  const cli = async (...argv: string[]) => {
    const capture = captureIo({ DATA_DIR: t.dir }, t.dir);
    const status = await runCli(argv, capture.io);
    return { status, stdout: capture.stdout(), stderr: capture.stderr() };
  };

  it('backup FILE and backup verify FILE', async () => {
    const file = path.join(t.dir, 'nightly.sqlite');
    const made = await cli('backup', file);
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(/^Backed up .*robot-auth\.sqlite to .*nightly\.sqlite \(\d+ bytes\)/);
    const again = await cli('backup', 'create', file);
    expect(again.status).toBe(1);
    const verified = await cli('backup', 'verify', file);
    expect(verified.status).toBe(0);
    expect(verified.stdout).toMatch(/nightly\.sqlite: ok \(integrity_check ok\)\nmigrations:\n {2}1 001-foundation\.sql \(applied .*\)\n {2}2 002-oauth-server\.sql/);
    expect(verified.stdout).toContain('pending:    none');
    expect(verified.stdout).toContain('users 2');
    const json = await cli('backup', 'verify', file, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      migrations: readMigrations().map((m) => ({ version: m.version, name: m.name, applied_at: expect.stringMatching(/Z$/) })),
    });
  });

  it('backup verify exits 1 for a bad file', async () => {
    const file = path.join(t.dir, 'bad.sqlite');
    fs.writeFileSync(file, 'garbage'.repeat(200));
    const result = await cli('backup', 'verify', file);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/bad\.sqlite: NOT OK/);
  });
});

describe('restore', () => {
  it('a backup copied into place is what the next start serves', async () => {
    const file = path.join(t.dir, 'copy.sqlite');
    await backupDatabase(t.db, file);
    const restoredDir = path.join(t.dir, 'restored');
    fs.mkdirSync(restoredDir);
    fs.copyFileSync(file, path.join(restoredDir, 'robot-auth.sqlite'));
    const restored = await startTestApp({}, { listen: false, dataDir: restoredDir });
    try {
      expect((await restored.ctx.store.repos.users.findByUsername('alice'))).toBeDefined();
      expect((await restored.ctx.store.repos.wikis.findBySlug('bob'))).toBeDefined();
    } finally {
      await restored.close();
    }
  });
});
