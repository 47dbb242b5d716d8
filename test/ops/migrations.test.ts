// Upgrades: a release with new migrations, started on a database that holds data, first takes an
// online backup next to it ({db}.pre-migration-{timestamp}.sqlite), then migrates. A failing
// migration leaves the database as it was (each migration is one transaction) and stops start-up.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateWithBackup, preMigrationBackupFile, verifyBackup } from '../../src/db/backup.ts';
import { migrate, readMigrations, type Migration } from '../../src/db/migrate.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { freePort } from '../support/app.ts';
import { createUsersRepo } from '../../src/accounts/users.repo.ts';
import { seedUser, tempData, type TempData } from '../support/seed.ts';
import { exitWithin, startServer, stopServer, type ServerProcess } from './server-process.ts';

let t: TempData;
let server: ServerProcess | undefined;
beforeEach(() => {
  t = tempData();
});
afterEach(async () => {
  await stopServer(server);
  server = undefined;
  t.cleanup();
});

const shipped = readMigrations();
const versions = (db: Db) => (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version);
const tables = (db: Db) =>
  (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
const backupsIn = (dir: string) => fs.readdirSync(dir).filter((f) => f.includes('.pre-migration-'));

/** A database at the first release's schema, holding a user. */
async function firstReleaseDatabase(): Promise<void> {
  t.db.close();
  fs.rmSync(t.config.databaseFile);
  t.db = openDatabase(t.config.databaseFile);
  migrate(t.db, shipped.slice(0, 1));
  // The first release's repository (the Store's needs the current schema).
  createUsersRepo(t.db).insertWithFirstWiki({ did: 'did:plc:alice', handle: 'alice.test', displayName: null, username: 'alice' });
}

describe('start-up with a newer release', () => {
  it('the real server backs up an older database, then migrates it', async () => {
    await firstReleaseDatabase();
    server = await startServer({ dataDir: t.dir, port: await freePort() });
    const [backup, ...more] = backupsIn(t.dir);
    expect(more).toEqual([]);
    expect(backup).toMatch(/^robot-auth\.sqlite\.pre-migration-\d{8}T\d{6}Z\.sqlite$/);
    const copy = verifyBackup(path.join(t.dir, backup!));
    expect(copy).toMatchObject({ ok: true, pending: shipped.slice(1).map((m) => m.name), counts: { users: 1 } });
    expect(copy.migrations.map((m) => m.version)).toEqual([1]);
    expect(versions(t.db)).toEqual(shipped.map((m) => m.version));
    server.child.kill('SIGTERM');
    expect(await exitWithin(server, 5000)).toEqual({ code: 0, signal: null });
  });

  it('takes no backup of a new, empty database, nor when nothing is pending', async () => {
    t.db.close();
    fs.rmSync(t.config.databaseFile);
    t.db = openDatabase(t.config.databaseFile);
    expect(await migrateWithBackup(t.db, { file: t.config.databaseFile })).toEqual({ applied: shipped.map((m) => m.name), backup: undefined });
    expect(await migrateWithBackup(t.db, { file: t.config.databaseFile })).toEqual({ applied: [], backup: undefined });
    expect(backupsIn(t.dir)).toEqual([]);
  });

  it('names the backup after the database and the time, next to it', () => {
    expect(preMigrationBackupFile('/var/lib/robot-auth/robot-auth.sqlite', new Date('2026-03-04T05:06:07.890Z'))).toBe(
      '/var/lib/robot-auth/robot-auth.sqlite.pre-migration-20260304T050607Z.sqlite',
    );
  });
});

describe('a failing migration', () => {
  const broken: Migration[] = [
    ...shipped,
    { version: 900, name: '900-add-column.sql', sql: 'ALTER TABLE users ADD COLUMN email TEXT;' },
    {
      version: 901,
      name: '901-broken.sql',
      sql: "CREATE TABLE audit (line TEXT); INSERT INTO audit VALUES ('half'); DELETE FROM wikis; UPDATE users SET handle = 'oops'; NOT SQL AT ALL;",
    },
    { version: 902, name: '902-after.sql', sql: 'CREATE TABLE after_broken (x);' },
  ];

  it('rolls back entirely, stops there, and leaves the backup it took first', async () => {
    await seedUser(t, 'alice');
    const tablesBefore = tables(t.db);
    await expect(migrateWithBackup(t.db, { file: t.config.databaseFile, migrations: broken })).rejects.toThrow(/syntax error/);

    // The migration before it is applied (its own transaction); the broken one left nothing.
    expect(versions(t.db)).toEqual([...shipped.map((m) => m.version), 900]);
    expect(tables(t.db)).toEqual(tablesBefore);
    expect(t.db.prepare('SELECT handle FROM users').all()).toEqual([{ handle: 'alice.test' }]);
    expect(t.db.prepare('SELECT slug FROM wikis').all()).toEqual([{ slug: 'alice' }]);
    expect((t.db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check).toBe('ok');

    const [backup] = backupsIn(t.dir);
    const copy = verifyBackup(path.join(t.dir, backup!), broken);
    expect(copy).toMatchObject({ ok: true, counts: { users: 1, wikis: 1 } });
    expect(copy.pending).toEqual(['900-add-column.sql', '901-broken.sql', '902-after.sql']);
  });

  it('once fixed, the next start applies it and the ones after it', async () => {
    await seedUser(t, 'alice');
    await expect(migrateWithBackup(t.db, { file: t.config.databaseFile, migrations: broken })).rejects.toThrow();
    const fixed = broken.map((m) => (m.version === 901 ? { ...m, sql: 'CREATE TABLE audit (line TEXT);' } : m));
    const result = await migrateWithBackup(t.db, { file: t.config.databaseFile, migrations: fixed });
    expect(result.applied).toEqual(['901-broken.sql', '902-after.sql']);
    expect(result.backup).toMatch(/\.pre-migration-/);
    expect(t.db.prepare('SELECT slug FROM wikis').all()).toEqual([{ slug: 'alice' }]);
  });
});
