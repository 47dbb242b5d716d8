// The PostgreSQL side of the one migration runner (src/db/postgres/migrate.ts): each migration in
// its own transaction (a failing one leaves nothing behind), and an advisory lock so that instances
// starting at the same moment apply each migration exactly once, without errors.
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrate.ts';
import { appliedPostgresMigrations, migratePostgres, pendingPostgresMigrations } from '../../src/db/postgres/migrate.ts';
import { onMigrateSetup } from '../support/migrate-setup.ts';

const setup = onMigrateSetup({ sqlite: false });

function write(name: string, sql: string): void {
  fs.writeFileSync(path.join(setup.dir, name), sql);
}
const tables = async (p: pg.Pool) =>
  (await p.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);

describe('PostgreSQL migrations', () => {
  it('apply in numeric order, once, and report what is pending', async () => {
    const p = await setup.emptyDatabase();
    write('10-add-email.sql', 'ALTER TABLE people ADD COLUMN email text;');
    write('2-people.sql', 'CREATE TABLE people (id bigint PRIMARY KEY, name text NOT NULL);');
    write('1-log.sql', 'CREATE TABLE log (line text);');
    expect((await pendingPostgresMigrations(p, readMigrations(setup.dir))).map((m) => m.name)).toEqual(['1-log.sql', '2-people.sql', '10-add-email.sql']);
    expect(await tables(p)).toEqual([]); // asking creates nothing
    expect(await migratePostgres(p, readMigrations(setup.dir))).toEqual(['1-log.sql', '2-people.sql', '10-add-email.sql']);
    expect(await migratePostgres(p, readMigrations(setup.dir))).toEqual([]);
    expect(await appliedPostgresMigrations(p)).toEqual(['1-log.sql', '2-people.sql', '10-add-email.sql']);
    expect(await pendingPostgresMigrations(p, readMigrations(setup.dir))).toEqual([]);
  });

  it('roll a failing migration back whole: no table from it, no record, earlier ones kept', async () => {
    const p = await setup.emptyDatabase();
    write('1-ok.sql', 'CREATE TABLE ok (id int);');
    write('2-broken.sql', 'CREATE TABLE half (id int); INSERT INTO half VALUES (1); SELECT no_such_function();');
    await expect(migratePostgres(p, readMigrations(setup.dir))).rejects.toThrow(/no_such_function/);
    expect(await tables(p)).toEqual(['ok', 'schema_migrations']);
    expect(await appliedPostgresMigrations(p)).toEqual(['1-ok.sql']);
  });

  it('apply each migration once when several instances start at the same moment', async () => {
    const url = await setup.server.createDatabase();
    // Slow, and not re-runnable: without the lock a second runner would see it pending too and fail
    // on CREATE TABLE (or on the schema_migrations primary key).
    write('1-first.sql', 'SELECT pg_sleep(0.3); CREATE TABLE first (id int);');
    write('2-second.sql', 'CREATE TABLE second (id int); INSERT INTO second VALUES (1);');
    write('3-third.sql', 'SELECT pg_sleep(0.2); ALTER TABLE second ADD COLUMN x int;');
    const runners = [setup.pool(url), setup.pool(url), setup.pool(url), setup.pool(url)];
    const results = await Promise.all(runners.map((p) => migratePostgres(p, readMigrations(setup.dir))));
    expect(results.flat().sort()).toEqual(['1-first.sql', '2-second.sql', '3-third.sql']);
    expect(await appliedPostgresMigrations(runners[0]!)).toEqual(['1-first.sql', '2-second.sql', '3-third.sql']);
    expect((await runners[0]!.query('SELECT count(*) AS n FROM second')).rows).toEqual([{ n: 1 }]);
  });

  it('apply the shipped schema once from two concurrent runners', async () => {
    const url = await setup.server.createDatabase();
    const [a, b] = await Promise.all([migratePostgres(setup.pool(url)), migratePostgres(setup.pool(url))]);
    expect([...a!, ...b!].sort()).toEqual(readMigrations().map((m) => m.name).sort());
  });
});
