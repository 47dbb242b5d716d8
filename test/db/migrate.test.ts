// Numbered migrations are applied in order, once each, each in its own transaction: a failing
// migration leaves no trace (no partial table, no schema_migrations row).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { migrate, pendingMigrations, readMigrations } from '../../src/db/migrate.ts';

let dir: string;
let db: Db;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-migrations-'));
  db = openDatabase(path.join(dir, 'db', 'test.sqlite'));
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, sql: string): void {
  fs.writeFileSync(path.join(dir, name), sql);
}

const tables = () =>
  (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map(
    (r) => r.name,
  );
const recorded = () =>
  db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as { version: number; name: string }[];

describe('migrations are applied in numeric order', () => {
  it('runs 2 before 10 even though "10" sorts first as text, and returns the names applied', () => {
    write('10-add-email.sql', 'ALTER TABLE people ADD COLUMN email TEXT;');
    write('2-people.sql', 'CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL);');
    write('1-log.sql', 'CREATE TABLE log (line TEXT);');
    expect(migrate(db, readMigrations(dir))).toEqual(['1-log.sql', '2-people.sql', '10-add-email.sql']);
    const columns = (db.prepare('PRAGMA table_info(people)').all() as { name: string }[]).map((c) => c.name);
    expect(columns).toEqual(['id', 'name', 'email']);
  });

  it('records each applied version with its file name and time', () => {
    write('001-a.sql', 'CREATE TABLE a (x);');
    write('002-b.sql', 'CREATE TABLE b (x);');
    const before = Math.floor(Date.now() / 1000);
    migrate(db, readMigrations(dir));
    expect(recorded()).toEqual([
      { version: 1, name: '001-a.sql' },
      { version: 2, name: '002-b.sql' },
    ]);
    const times = db.prepare('SELECT applied_at FROM schema_migrations').all() as { applied_at: number }[];
    for (const { applied_at } of times) expect(applied_at).toBeGreaterThanOrEqual(before);
  });

  it('reads only NNN-name.sql files', () => {
    write('001-a.sql', 'CREATE TABLE a (x);');
    write('README.md', 'not a migration');
    write('002-b.sql.bak', 'CREATE TABLE nope (x);');
    write('notes.sql', 'CREATE TABLE nope2 (x);');
    expect(readMigrations(dir).map((m) => m.name)).toEqual(['001-a.sql']);
  });

  it('refuses two migrations with the same version', () => {
    write('003-a.sql', 'SELECT 1;');
    write('3-b.sql', 'SELECT 1;');
    expect(() => readMigrations(dir)).toThrow(/share version 3/);
  });
});

describe('migrate is idempotent', () => {
  it('applies nothing the second time and leaves the data alone', () => {
    write('001-items.sql', "CREATE TABLE items (name TEXT); INSERT INTO items VALUES ('seed');");
    expect(migrate(db, readMigrations(dir))).toEqual(['001-items.sql']);
    expect(migrate(db, readMigrations(dir))).toEqual([]);
    expect(db.prepare('SELECT count(*) AS n FROM items').get()).toEqual({ n: 1 });
    expect(recorded()).toHaveLength(1);
  });

  it('applies only the migrations added since the last run', () => {
    write('001-a.sql', 'CREATE TABLE a (x);');
    migrate(db, readMigrations(dir));
    write('002-b.sql', 'CREATE TABLE b (x);');
    expect(pendingMigrations(db, readMigrations(dir)).map((m) => m.name)).toEqual(['002-b.sql']);
    expect(migrate(db, readMigrations(dir))).toEqual(['002-b.sql']);
    expect(tables()).toEqual(['a', 'b', 'schema_migrations']);
  });

  it('survives a reopen of the database file', () => {
    write('001-a.sql', 'CREATE TABLE a (x);');
    migrate(db, readMigrations(dir));
    db.close();
    db = openDatabase(path.join(dir, 'db', 'test.sqlite'));
    expect(migrate(db, readMigrations(dir))).toEqual([]);
  });
});

describe('a failing migration rolls back entirely', () => {
  it('leaves no partial table and no record when a later statement has a syntax error', () => {
    write('001-good.sql', 'CREATE TABLE good (x);');
    write('002-bad.sql', 'CREATE TABLE half_done (x); CREATE INDEX half_done_x ON half_done(x); THIS IS NOT SQL;');
    write('003-after.sql', 'CREATE TABLE after_bad (x);');
    expect(() => migrate(db, readMigrations(dir))).toThrow();
    expect(tables()).toEqual(['good', 'schema_migrations']);
    expect(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'half_done_x'").get()).toBeUndefined();
    expect(recorded()).toEqual([{ version: 1, name: '001-good.sql' }]);
  });

  it('undoes data changes too when a constraint fails half-way', () => {
    write('001-users.sql', "CREATE TABLE users (name TEXT UNIQUE); INSERT INTO users VALUES ('ann');");
    write('002-more.sql', "ALTER TABLE users ADD COLUMN age INTEGER; INSERT INTO users (name) VALUES ('bob'); INSERT INTO users (name) VALUES ('ann');");
    expect(() => migrate(db, readMigrations(dir))).toThrow(/UNIQUE/);
    expect(db.prepare('SELECT name FROM users').all()).toEqual([{ name: 'ann' }]);
    const columns = (db.prepare('PRAGMA table_info(users)').all() as { name: string }[]).map((c) => c.name);
    expect(columns).toEqual(['name']);
    expect(recorded().map((r) => r.version)).toEqual([1]);
  });

  it('applies the fixed migration and the ones after it on the next run', () => {
    write('001-good.sql', 'CREATE TABLE good (x);');
    write('002-bad.sql', 'CREATE TABLE second (x); NOT SQL;');
    write('003-after.sql', 'CREATE TABLE third (x);');
    expect(() => migrate(db, readMigrations(dir))).toThrow();
    write('002-bad.sql', 'CREATE TABLE second (x);');
    expect(migrate(db, readMigrations(dir))).toEqual(['002-bad.sql', '003-after.sql']);
    expect(tables()).toEqual(['good', 'schema_migrations', 'second', 'third']);
  });
});

describe("the project's own migrations", () => {
  it('apply cleanly to an empty database, once', () => {
    const shipped = readMigrations();
    expect(shipped.length).toBeGreaterThan(0);
    expect(migrate(db)).toEqual(shipped.map((m) => m.name));
    expect(migrate(db)).toEqual([]);
    expect(tables()).toEqual(expect.arrayContaining(['users', 'wikis', 'sessions', 'atproto_sessions', 'sign_in_tickets']));
  });
});
