// `admin migrate-to-postgres --to postgres://…` (issue 12): moves a deployment's SQLite database into
// an EMPTY PostgreSQL database, and proves the copy.
//  0. Writes are held: a connection of our own takes the live file's write lock (BEGIN IMMEDIATE)
//     before the snapshot and keeps it until the last comparison, so nothing can be written after
//     the snapshot and silently lost at cut-over (a revocation, a refresh rotation, an account
//     deletion). A service still running waits for the lock and, past its busy_timeout (5 s,
//     src/db/open.ts), answers 503 + Retry-After (src/db/faults.ts `locked`); the lock is never
//     released early. If the lock cannot be had (a writer holds it past WRITE_LOCK_WAIT_MS), the
//     command refuses to start. --verify-only takes no lock: it compares a snapshot of the live file.
//  1. Snapshot: SQLite's online backup API copies the live file (src/db/backup.ts); what is copied
//     is that one consistent snapshot.
//  2. The snapshot must be on this release's schema (no pending SQLite migration), and the target
//     must hold no table of its own and no row beyond those the migrations themselves insert (the
//     client counts of 005, singletons such as a version row): anything else is refused before a write.
//     What the migrations insert is learnt by applying the SQLite migrations to an in-memory database
//     (the two dialects' migrations insert the same rows), so a new seeded table needs no code here.
//  3. The PostgreSQL migrations are applied (src/db/postgres/migrate.ts), then every table is copied
//     in foreign-key order, in batches, inside ONE transaction (inTransaction, src/db/postgres/pool.ts):
//     any error rolls the whole copy back and the target is left empty (its schema stays; running
//     again is safe). oauth_client_counts is not copied: its triggers recount the clients as they are
//     inserted, and the check proves it. Other tables the migrations seed get SQLite's rows in place
//     of the seeded ones.
//     Identity sequences (audit_log.id) are moved past the copied ids.
//  4. Verification: per table, a row count and a checksum computed by the same code on both sides
//     (each row's values normalised to text, hashed with SHA-256; the table's checksum is the sum of
//     the row hashes modulo 2^128, so it does not depend on the order rows come back in, which differs
//     between SQLite's BINARY and PostgreSQL's collations). Any difference fails the command.
//     After a copy the SQLite side is the LIVE file (read under the held lock), not the snapshot:
//     the comparison proves PostgreSQL equals what the service would serve next.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { backupDatabase } from '../db/backup.ts';
import { migrate, notApplied, readMigrations, type Migration } from '../db/migrate.ts';
import type { Db } from '../db/open.ts';
import { LOCKS, lockForTransaction } from '../db/postgres/advisory-locks.ts';
import { appliedPostgresMigrations, migratePostgres, readPostgresMigrations } from '../db/postgres/migrate.ts';
import { inTransaction } from '../db/postgres/pool.ts';
import { AdminError } from './errors.ts';

/** Maintained by triggers on oauth_clients (migration 005): recounted on insert, verified, not copied. */
const DERIVED_TABLES = new Set(['oauth_client_counts']);
const BOOKKEEPING_TABLES = new Set(['schema_migrations']);
/** PostgreSQL takes at most 65,535 parameters per statement. */
const MAX_PARAMETERS = 60_000;
/** How long we wait for a service write in progress to finish before refusing to start. */
export const WRITE_LOCK_WAIT_MS = 10_000;

export interface TableCheck {
  table: string;
  sqliteRows: number;
  postgresRows: number;
  sqliteChecksum: string;
  postgresChecksum: string;
  ok: boolean;
}

export interface MigrateToPostgresResult {
  /** PostgreSQL migrations this run applied to the target (all of them on an empty database). */
  migrationsApplied: string[];
  /** Rows copied per table, in copy order ([] with verifyOnly). */
  copied: { table: string; rows: number }[];
  checks: TableCheck[];
  ok: boolean;
}

export interface MigrateToPostgresOptions {
  /** Rows per INSERT statement (default 500; fewer for wide tables). */
  batchSize?: number;
  /** Only compare the SQLite database with an earlier copy. */
  verifyOnly?: boolean;
  /** Where the snapshot file goes (default: beside the database file; deleted afterwards). */
  snapshotDir?: string;
  /** How long to wait for the live file's write lock (default WRITE_LOCK_WAIT_MS). */
  writeLockWaitMs?: number;
  /** The migrations of both dialects (default: the shipped ones; tests add their own). */
  migrations?: { sqlite: Migration[]; postgres: Migration[] };
}

interface Table {
  name: string;
  columns: string[];
}

type Value = string | number | bigint | null | Buffer;

export async function migrateToPostgres(
  deps: { db: Db; databaseFile: string; pool: pg.Pool },
  options: MigrateToPostgresOptions = {},
): Promise<MigrateToPostgresResult> {
  const migrations = options.migrations ?? { sqlite: readMigrations(), postgres: readPostgresMigrations() };
  const dir = options.snapshotDir ?? path.dirname(deps.databaseFile);
  const snapshotFile = path.join(dir, `${path.basename(deps.databaseFile)}.to-postgres-${process.pid}-${Date.now()}.sqlite`);
  if (options.verifyOnly) {
    await backupDatabase(deps.db, snapshotFile);
    const snapshot = new Database(snapshotFile, { readonly: true, fileMustExist: true });
    try {
      return { migrationsApplied: [], copied: [], ...(await verify(snapshot, deps.pool, sqliteTables(snapshot))) };
    } finally {
      snapshot.close();
      fs.rmSync(snapshotFile, { force: true });
    }
  }
  const writeLock = holdWriteLock(deps.databaseFile, options.writeLockWaitMs ?? WRITE_LOCK_WAIT_MS);
  let snapshot: Database.Database | undefined;
  try {
    await backupDatabase(deps.db, snapshotFile);
    snapshot = new Database(snapshotFile, { readonly: true, fileMustExist: true });
    const tables = sqliteTables(snapshot);
    requireCurrentSchema(snapshot, migrations.sqlite);
    const seeded = seededByMigrations(migrations.sqlite);
    const checking = await deps.pool.connect(); // one connection: the check reads through a cursor
    try {
      await requireEmptyTarget(checking, seeded, { beforeMigrations: true });
    } finally {
      checking.release();
    }
    const migrationsApplied = await migratePostgres(deps.pool, migrations.postgres);
    const expected = migrations.sqlite.map((m) => m.name);
    const onTarget = await appliedPostgresMigrations(deps.pool);
    if (onTarget.join() !== expected.join()) {
      throw new AdminError(`The PostgreSQL database records migrations ${onTarget.join(', ')}, this release ships ${expected.join(', ')}: use an empty database.`);
    }
    const copied = await copyAll(snapshot, deps.pool, tables, seeded, options.batchSize ?? 500);
    // Against the live file, still under the lock.
    return { migrationsApplied, copied, ...(await verify(deps.db, deps.pool, tables)) };
  } finally {
    snapshot?.close();
    fs.rmSync(snapshotFile, { force: true });
    writeLock.exec('ROLLBACK');
    writeLock.close();
  }
}

/**
 * A connection of our own on the live file holding its write lock (BEGIN IMMEDIATE; it writes
 * nothing). Waits up to `waitMs` for a write in progress; refuses if it cannot have it.
 */
function holdWriteLock(databaseFile: string, waitMs: number): Database.Database {
  const lock = new Database(databaseFile, { fileMustExist: true });
  try {
    lock.pragma(`busy_timeout = ${Math.max(0, Math.floor(waitMs))}`);
    lock.exec('BEGIN IMMEDIATE');
    return lock;
  } catch (err) {
    lock.close();
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      throw new AdminError(
        `Another process kept writing to ${databaseFile} for ${waitMs / 1000} s, so the copy could not hold writes: ` +
          'stop the service (systemctl stop robot-auth) and any admin command, then run again. Nothing was copied.',
      );
    }
    throw err;
  }
}

/** Per table, the rows a freshly migrated database holds (count and checksum), for the tables that have any. */
type Seeded = Map<string, { rows: number; checksum: string }>;

function seededByMigrations(sqliteMigrations: Migration[]): Seeded {
  const fresh = new Database(':memory:');
  try {
    migrate(fresh, sqliteMigrations);
    const seeded: Seeded = new Map();
    for (const table of sqliteTables(fresh)) {
      const sum = sqliteTableSum(fresh, table);
      if (sum.rows > 0) seeded.set(table.name, { rows: sum.rows, checksum: sum.checksum });
    }
    return seeded;
  } finally {
    fresh.close();
  }
}

/** The SQLite tables to copy, parents before children (foreign keys), ties by name. */
function sqliteTables(db: Database.Database): Table[] {
  const names = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[])
    .map((r) => r.name)
    .filter((n) => !BOOKKEEPING_TABLES.has(n));
  const parents = new Map(
    names.map((n) => [n, (db.prepare(`PRAGMA foreign_key_list("${n}")`).all() as { table: string }[]).map((f) => f.table).filter((t) => t !== n)]),
  );
  const ordered: string[] = [];
  const visit = (n: string, path: string[]) => {
    if (ordered.includes(n)) return;
    if (path.includes(n)) throw new Error(`foreign-key cycle: ${[...path, n].join(' -> ')}`);
    for (const p of parents.get(n) ?? []) visit(p, [...path, n]);
    ordered.push(n);
  };
  for (const n of names) visit(n, []);
  return ordered.map((name) => ({
    name,
    columns: (db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map((c) => c.name),
  }));
}

function requireCurrentSchema(db: Database.Database, shipped: Migration[]): void {
  const applied = (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version);
  const pending = notApplied(shipped, applied);
  if (pending.length > 0) {
    throw new AdminError(
      `The SQLite database is older than this release (pending: ${pending.map((m) => m.name).join(', ')}). ` +
        'Start the service once on this release (it backs up and migrates), or run `npm run admin -- migrate`, then copy.',
    );
  }
  const known = new Set(shipped.map((m) => m.version));
  const unknown = applied.filter((v) => !known.has(v));
  if (unknown.length > 0) throw new AdminError(`The SQLite database has migrations this release does not know (${unknown.join(', ')}): run the release that made it.`);
}

/**
 * No table that is not ours, and no row in ours beyond what the migrations insert (`seeded`). Checked
 * before the migrations write anything, and again inside the copy transaction.
 */
async function requireEmptyTarget(client: Pick<pg.PoolClient, 'query'>, seeded: Seeded, when: { beforeMigrations: boolean }): Promise<void> {
  const { rows } = await client.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  const present = rows.map((r) => r.t);
  if (present.length === 0) return;
  if (when.beforeMigrations && !present.includes('schema_migrations')) {
    throw new AdminError(
      `The PostgreSQL database is not empty: it holds tables that are not robot-auth's (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', …' : ''}). ` +
        'Copy into a new, empty database (CREATE DATABASE robot_auth OWNER robot_auth).',
    );
  }
  const withRows: string[] = [];
  for (const t of present) {
    if (BOOKKEEPING_TABLES.has(t)) continue;
    const expected = seeded.get(t);
    if (!expected) {
      if ((await client.query<{ x: boolean }>(`SELECT EXISTS (SELECT 1 FROM "${t}") AS x`)).rows[0]?.x) withRows.push(t);
      continue;
    }
    const columns = (
      await client.query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position", [t])
    ).rows.map((r) => r.c);
    const actual = await postgresTableSum(client, { name: t, columns });
    if (actual.rows !== expected.rows || actual.checksum !== expected.checksum) withRows.push(t);
  }
  if (withRows.length > 0) {
    throw new AdminError(
      `The PostgreSQL database is not empty: ${withRows.join(', ')} hold rows. migrate-to-postgres only copies into an empty database, ` +
        'so it never merges two deployments; to start over, drop and re-create the database.',
    );
  }
}

async function copyAll(
  snapshot: Database.Database,
  pool: pg.Pool,
  tables: Table[],
  seeded: Seeded,
  batchSize: number,
): Promise<{ table: string; rows: number }[]> {
  const copied: { table: string; rows: number }[] = [];
  let current = '';
  try {
    return await inTransaction(pool, async (client) => {
      await lockForTransaction(client, LOCKS.copyFromSqlite);
      // Again inside the transaction, under the lock: a second copy that started at the same time waits
      // for this one and then finds the rows.
      await requireEmptyTarget(client, seeded, { beforeMigrations: false });
      for (const table of tables) {
        if (DERIVED_TABLES.has(table.name)) continue;
        current = table.name;
        // What a migration inserted (a singleton row) makes way for the deployment's own rows.
        if (seeded.has(table.name)) await client.query(`DELETE FROM "${table.name}"`);
        const perBatch = Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMETERS / table.columns.length)));
        const columnList = table.columns.map((c) => `"${c}"`).join(', ');
        let batch: Value[][] = [];
        let n = 0;
        const flush = async () => {
          if (batch.length === 0) return;
          const values: Value[] = [];
          const tuples = batch.map((row) => `(${row.map((v) => `$${values.push(v)}`).join(', ')})`);
          await client.query(`INSERT INTO "${table.name}" (${columnList}) VALUES ${tuples.join(', ')}`, values);
          n += batch.length;
          batch = [];
        };
        for (const row of snapshot.prepare(`SELECT ${columnList} FROM "${table.name}"`).raw().iterate() as IterableIterator<Value[]>) {
          batch.push(row);
          if (batch.length >= perBatch) await flush();
        }
        await flush();
        copied.push({ table: table.name, rows: n });
      }
      current = 'identity sequences';
      const identities = await client.query<{ table_name: string; column_name: string }>(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
      );
      for (const { table_name: t, column_name: c } of identities.rows) {
        await client.query(`SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(max("${c}"), 1), max("${c}") IS NOT NULL) FROM "${t}"`, [`"${t}"`, c]);
      }
      return copied;
    });
  } catch (err) {
    // inTransaction rolled the whole copy back.
    if (err instanceof AdminError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new AdminError(
      `Copying ${current} failed, and nothing was copied: the whole copy was rolled back and the PostgreSQL database holds no copied row. ` +
        `PostgreSQL said: ${reason}. Fix the cause (for a row PostgreSQL refuses, correct it in SQLite with the service stopped) and run the command again.`,
    );
  }
}

/** Text form of a value, the same for SQLite's and PostgreSQL's representation of it. */
function normalise(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  throw new Error(`unexpected value of type ${typeof value}`);
}

class TableSum {
  rows = 0;
  private sum = 0n;
  add(row: readonly unknown[]): void {
    const digest = createHash('sha256').update(JSON.stringify(row.map(normalise))).digest();
    this.sum = (this.sum + BigInt(`0x${digest.subarray(0, 16).toString('hex')}`)) & ((1n << 128n) - 1n);
    this.rows++;
  }
  get checksum(): string {
    return this.sum.toString(16).padStart(32, '0');
  }
}

function sqliteTableSum(db: Database.Database, table: Table): TableSum {
  const sum = new TableSum();
  const columnList = table.columns.map((c) => `"${c}"`).join(', ');
  for (const row of db.prepare(`SELECT ${columnList} FROM "${table.name}"`).raw().iterate() as IterableIterator<unknown[]>) sum.add(row);
  return sum;
}

/** The same sum over a PostgreSQL table, read through a cursor (call inside a transaction). */
async function postgresTableSum(client: Pick<pg.PoolClient, 'query'>, table: Table): Promise<TableSum> {
  const sum = new TableSum();
  const columnList = table.columns.map((c) => `"${c}"`).join(', ');
  await client.query(`DECLARE rows_cursor NO SCROLL CURSOR WITH HOLD FOR SELECT ${columnList} FROM "${table.name}"`);
  try {
    for (;;) {
      const { rows } = await client.query<unknown[]>({ text: 'FETCH 2000 FROM rows_cursor', rowMode: 'array' });
      for (const row of rows) sum.add(row);
      if (rows.length < 2000) break;
    }
  } finally {
    await client.query('CLOSE rows_cursor');
  }
  return sum;
}

async function verify(snapshot: Database.Database, pool: pg.Pool, tables: Table[]): Promise<{ checks: TableCheck[]; ok: boolean }> {
  const checks: TableCheck[] = [];
  // One snapshot of the PostgreSQL side too.
  await inTransaction(
    pool,
    async (client) => {
      for (const table of tables) {
        const left = sqliteTableSum(snapshot, table);
        const exists = (await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`"${table.name}"`])).rows[0]?.t;
        const right = exists ? await postgresTableSum(client, table) : undefined;
        checks.push({
          table: table.name,
          sqliteRows: left.rows,
          postgresRows: right?.rows ?? 0,
          sqliteChecksum: left.checksum,
          postgresChecksum: right?.checksum ?? 'missing',
          ok: right !== undefined && left.rows === right.rows && left.checksum === right.checksum,
        });
      }
    },
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
  );
  return { checks, ok: checks.every((c) => c.ok) };
}
