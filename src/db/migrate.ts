// Numbered SQL migrations (`migrations/NNN-name.sql`), applied in order, each inside its own
// transaction and recorded in schema_migrations, so a failing migration leaves the database as it was.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './open.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

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

export function pendingMigrations(db: Db, migrations: Migration[]): Migration[] {
  ensureMigrationsTable(db);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  return migrations.filter((m) => !applied.has(m.version));
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
