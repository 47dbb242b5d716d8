// Raw SQL on a test app's database, whichever store it uses (SQLite file or PostgreSQL database),
// for what no repository of the Store does and a test must still do: age a row (an expiry in the
// past), count a table's rows, snapshot every table. Arrange and assert through the Store
// (`app.ctx.store.repos`) or ./seed.ts whenever a method exists; this is the rest.
//  - One connection of its own beside the app's: a second SQLite connection on the file (WAL lets
//    both work; busy_timeout makes a write wait) or a small pg pool on DATABASE_URL.
//  - Placeholders are `?` in both dialects (rewritten to $1… for PostgreSQL), so a test's SQL is
//    written once; keep it portable (no rowid, no sqlite_schema: use `tables()`).
//  - PostgreSQL's bigint comes back as a number, as better-sqlite3's integers do (src/db/postgres/pool.ts).
// startTestApp gives every app one (`app.sql()`), closed with the app.
import crypto from 'node:crypto';
import type { Config } from '../../src/config/env.ts';
import { openDatabase } from '../../src/db/open.ts';
import { createPool } from '../../src/db/postgres/pool.ts';

export interface TestSql {
  readonly dialect: 'sqlite' | 'postgres';
  all<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  get<T>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** Runs a write; resolves with the number of rows it changed. */
  run(sql: string, ...params: unknown[]): Promise<number>;
  /** `SELECT count(*)` of a table, optionally `WHERE …`. */
  count(table: string, where?: string, ...params: unknown[]): Promise<number>;
  /** The application's tables, by name. */
  tables(): Promise<string[]>;
  close(): Promise<void>;
}

/** `?` → `$1`, `$2`, … (the test SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export function openTestSql(config: Pick<Config, 'databaseFile' | 'databaseUrl'>): TestSql {
  const common = (all: TestSql['all']) => ({
    get: async <T>(sql: string, ...params: unknown[]) => (await all<T>(sql, ...params))[0],
    count: async (table: string, where?: string, ...params: unknown[]) =>
      Number((await all<{ n: number }>(`SELECT count(*) AS n FROM "${table}"${where ? ` WHERE ${where}` : ''}`, ...params))[0]!.n),
  });
  if (config.databaseUrl) {
    const pool = createPool({ url: config.databaseUrl, poolSize: 2, applicationName: 'robot-auth-test' });
    let tableNames: string[] | undefined;
    const all = async <T>(sql: string, ...params: unknown[]): Promise<T[]> => (await pool.query(numbered(sql), params)).rows as T[];
    return {
      dialect: 'postgres',
      all,
      ...common(all),
      run: async (sql, ...params) => (await pool.query(numbered(sql), params)).rowCount ?? 0,
      // The schema does not change under a running test: read once.
      tables: async () =>
        (tableNames ??= (await all<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name")).map((r) => r.name)),
      close: () => pool.end(),
    };
  }
  const db = openDatabase(config.databaseFile);
  const all = async <T>(sql: string, ...params: unknown[]): Promise<T[]> => db.prepare(sql).all(...params) as T[];
  return {
    dialect: 'sqlite',
    all,
    ...common(all),
    run: async (sql, ...params) => db.prepare(sql).run(...params).changes,
    tables: async () =>
      (await all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")).map((r) => r.name),
    close: async () => {
      if (db.open) db.close();
    },
  };
}

// ── Snapshots of every table ──────────────────────────────────────────────────────────────────
// The fuzz suites take these around every request. SQLite answers in-process; on PostgreSQL each is
// one statement (every table in one round trip, the digest computed by the server), so a snapshot
// costs about a millisecond there too instead of one query per table.

const quoted = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** `SELECT count(*)` of every table. */
export async function rowCounts(sql: TestSql): Promise<Record<string, number>> {
  const tables = await sql.tables();
  const counts: Record<string, number> = {};
  if (sql.dialect === 'postgres') {
    const row = await sql.get<Record<string, number>>(`SELECT ${tables.map((t) => `(SELECT count(*) FROM ${quoted(t)}) AS ${quoted(t)}`).join(', ')}`);
    for (const t of tables) counts[t] = Number(row![t]);
    return counts;
  }
  for (const name of tables) counts[name] = await sql.count(name);
  return counts;
}

/** A digest of every row of every table (rows in a canonical order): it changes on any insert, update or delete. */
export async function contentDigest(sql: TestSql): Promise<string> {
  const tables = await sql.tables();
  const hash = crypto.createHash('sha256');
  if (sql.dialect === 'postgres') {
    // Per table: md5 over its rows' text forms, sorted.
    const row = await sql.get<Record<string, string>>(
      `SELECT ${tables.map((t) => `(SELECT md5(coalesce(string_agg(r::text, chr(10) ORDER BY r::text), '')) FROM ${quoted(t)} r) AS ${quoted(t)}`).join(', ')}`,
    );
    for (const t of tables) hash.update(`\u0000${t}\u0000${row![t]}`);
    return hash.digest('hex');
  }
  for (const name of tables) {
    hash.update(`\u0000${name}\u0000`);
    const rows = (await sql.all<Record<string, unknown>>(`SELECT * FROM ${quoted(name)}`)).map((r) => JSON.stringify(r)).sort();
    for (const r of rows) hash.update(r);
  }
  return hash.digest('hex');
}

/** Tables whose row count differs between two snapshots, with before → after. */
export function countChanges(before: Record<string, number>, after: Record<string, number>): Record<string, string> {
  const changed: Record<string, string> = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[name] !== after[name]) changed[name] = `${before[name]} → ${after[name]}`;
  }
  return changed;
}
