// Backups with SQLite's online backup API (better-sqlite3 `db.backup`): a consistent copy taken
// while the service keeps reading and writing. The copy is switched to a rollback journal so it is
// one self-contained file (no -wal/-shm), readable with a read-only open. Start-up takes one before
// it applies pending migrations to a database that holds data.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Db } from './open.ts';
import { migrate, pendingMigrations, readMigrations, type Migration } from './migrate.ts';
import type { Logger } from '../web/log.ts';

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
}

/**
 * Copies the database behind `db` to `file` (which must not exist; created mode 0600). Safe while
 * other connections write: SQLite restarts a copy that another connection changed half-way, so each
 * step after the first copies everything that is left, and the copy converges even under load.
 */
export async function backupDatabase(db: Db, file: string): Promise<BackupResult> {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  // An empty file is an empty database to SQLite: creating it first gives the copy its mode and
  // refuses to overwrite anything (flag wx).
  fs.writeFileSync(target, '', { mode: 0o600, flag: 'wx' });
  try {
    const { totalPages } = await db.backup(target, { progress: ({ remainingPages }) => Math.max(remainingPages, 100) });
    const copy = new Database(target, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    return { file: target, bytes: fs.statSync(target).size, pages: totalPages };
  } catch (err) {
    for (const leftover of [target, `${target}-journal`, `${target}-wal`, `${target}-shm`]) fs.rmSync(leftover, { force: true });
    throw err;
  }
}

export interface AppliedMigration {
  version: number;
  name: string;
  appliedAt: number;
}

export interface VerifyResult {
  file: string;
  /** True when the file opens as SQLite and `PRAGMA integrity_check` says `ok`. */
  ok: boolean;
  /** What integrity_check (or opening the file) reported; empty when ok. */
  problems: string[];
  migrations: AppliedMigration[];
  /** Shipped migrations this copy has not applied (a restore will apply them at start-up). */
  pending: string[];
  /** Applied versions this code does not know (the copy is from a newer release). */
  unknown: number[];
  /** Row counts of the main tables, to see at a glance that the copy holds what it should. */
  counts: Record<string, number>;
}

const COUNTED_TABLES = ['users', 'wikis', 'sessions', 'oauth_clients', 'oauth_grants', 'refresh_tokens'];

/** Opens a backup read-only (never modifies it) and checks it; never throws for a bad file. */
export function verifyBackup(file: string, shipped: Migration[] = readMigrations()): VerifyResult {
  const result: VerifyResult = { file: path.resolve(file), ok: false, problems: [], migrations: [], pending: [], unknown: [], counts: {} };
  let copy: Db;
  try {
    copy = new Database(result.file, { readonly: true, fileMustExist: true });
  } catch (err) {
    result.problems.push((err as Error).message);
    return result;
  }
  try {
    const rows = (copy.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    result.ok = rows.length === 1 && rows[0] === 'ok';
    if (!result.ok) {
      result.problems = rows;
      return result;
    }
    const tables = new Set((copy.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    if (tables.has('schema_migrations')) {
      result.migrations = (
        copy.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as {
          version: number;
          name: string;
          applied_at: number;
        }[]
      ).map((r) => ({ version: r.version, name: r.name, appliedAt: r.applied_at }));
    }
    const applied = new Set(result.migrations.map((m) => m.version));
    const known = new Set(shipped.map((m) => m.version));
    result.pending = shipped.filter((m) => !applied.has(m.version)).map((m) => m.name);
    result.unknown = [...applied].filter((v) => !known.has(v));
    for (const table of COUNTED_TABLES) {
      if (tables.has(table)) result.counts[table] = (copy.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    }
  } catch (err) {
    // A damaged file can fail the check itself ("database disk image is malformed").
    result.ok = false;
    result.problems.push((err as Error).message);
  } finally {
    copy.close();
  }
  return result;
}

/**
 * `robot-auth.sqlite` → `robot-auth.sqlite.pre-migration-20260101T120000Z.sqlite`, next to it
 * (`…Z-2.sqlite` and so on when a start in the same second already took one).
 */
export function preMigrationBackupFile(databaseFile: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  const name = (n: number) => `${databaseFile}.pre-migration-${stamp}${n === 1 ? '' : `-${n}`}.sqlite`;
  let n = 1;
  while (fs.existsSync(name(n))) n++;
  return name(n);
}

export interface MigrateWithBackupOptions {
  /** The database's file; the backup goes next to it. */
  file: string;
  migrations?: Migration[];
  log?: Logger;
}

export interface MigrateWithBackupResult {
  applied: string[];
  /** The backup taken first, when there was data to protect. */
  backup: string | undefined;
}

/** Whether the database holds anything besides the (possibly empty) migrations table. */
function holdsData(db: Db): boolean {
  const row = db
    .prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'")
    .get() as { n: number };
  return row.n > 0;
}

/**
 * Start-up with a newer release: when migrations are pending on a database that holds data, first an
 * online backup `{file}.pre-migration-{timestamp}.sqlite`, then the migrations, each in its own
 * transaction (a failing one leaves no trace and stops start-up; the backup stays for a restore).
 */
export async function migrateWithBackup(db: Db, options: MigrateWithBackupOptions): Promise<MigrateWithBackupResult> {
  const migrations = options.migrations ?? readMigrations();
  const pending = pendingMigrations(db, migrations);
  const known = new Set(migrations.map((m) => m.version));
  const unknown = (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).filter((r) => !known.has(r.version));
  if (unknown.length > 0) {
    options.log?.warn({ versions: unknown.map((r) => r.version) }, 'the database has migrations this release does not know (downgrade?)');
  }
  if (pending.length === 0) return { applied: [], backup: undefined };
  let backup: string | undefined;
  if (options.file !== ':memory:' && holdsData(db)) {
    const result = await backupDatabase(db, preMigrationBackupFile(options.file));
    backup = result.file;
    options.log?.info({ backup, bytes: result.bytes, pending: pending.map((m) => m.name) }, 'database backed up before migrating');
  }
  try {
    const applied = migrate(db, migrations);
    if (applied.length > 0) options.log?.info({ applied }, 'database migrated');
    return { applied, backup };
  } catch (err) {
    options.log?.error({ err, backup }, 'migration failed; the failing migration was rolled back');
    throw err;
  }
}
