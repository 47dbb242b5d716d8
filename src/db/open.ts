// One SQLite file for everything. WAL lets readers run beside the single writer; a busy timeout
// makes a second process (the admin CLI) wait instead of failing; foreign keys make
// ON DELETE CASCADE do the revocation bookkeeping.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

export function openDatabase(file: string): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Seconds since the epoch: every timestamp column stores this. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
