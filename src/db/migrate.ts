// Numbered SQL migrations, applied in order, each inside its own transaction and recorded in
// schema_migrations, so a failing migration leaves the database as it was. One runner, two dialects:
//  - SQLite: `migrations/NNN-name.sql`, applied by `migrate` below (synchronous, better-sqlite3);
//    the service backs the file up first (src/db/backup.ts, src/server.ts).
//  - PostgreSQL: `migrations/postgres/NNN-name.sql`, the same file names, applied by
//    src/db/postgres/migrate.ts under an advisory lock, so instances starting together migrate once.
// This file holds what both share: reading the files and deciding what is pending.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './open.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
/** The PostgreSQL mirror: one file per SQLite migration, same name (test/db/postgres-schema.test.ts). */
export const POSTGRES_MIGRATIONS_DIR = path.join(MIGRATIONS_DIR, 'postgres');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = fs
    .readdirSync(dir)
    .filter((f) => /^\d+-[\w-]+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.split('-')[0]), name: f, sql: fs.readFileSync(path.join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new Error(`Two migrations share version ${migrations[i]!.version}`);
    }
  }
  return migrations;
}

/** The shipped migrations not yet recorded, in order (both dialects). */
export function notApplied(migrations: Migration[], appliedVersions: Iterable<number>): Migration[] {
  const applied = new Set(appliedVersions);
  return migrations.filter((m) => !applied.has(m.version));
}

export function pendingMigrations(db: Db, migrations: Migration[]): Migration[] {
  ensureMigrationsTable(db);
  return notApplied(
    migrations,
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
}

/** Applies pending migrations; returns the names applied. */
export function migrate(db: Db, migrations: Migration[] = readMigrations()): string[] {
  const applied: string[] = [];
  for (const m of pendingMigrations(db, migrations)) {
    // IMMEDIATE: take the write lock up front (waiting out the busy timeout if the admin CLI writes),
    // so the migration never fails half-way on a lock it could not upgrade to.
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Math.floor(Date.now() / 1000),
      );
    }).immediate();
    applied.push(m.name);
  }
  return applied;
}

function ensureMigrationsTable(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
}
