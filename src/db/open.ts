// One SQLite file for everything. WAL lets readers run beside the single writer; a busy timeout
// makes a second process (the admin CLI) wait instead of failing; foreign keys make
// ON DELETE CASCADE do the revocation bookkeeping. The file holds sealed PDS tokens, hashed
// secrets and personal data: it is created 0600 before SQLite writes a byte (SQLite gives its -wal
// and -shm files the main file's mode), whatever the umask, in development as in production.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Owner-only: the database file and its companions. */
export const DATABASE_FILE_MODE = 0o600;

export function openDatabase(file: string): Db {
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    createOwnerOnly(file);
  }
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
  } catch (err) {
    // A corrupt file or a read-only disk fails here: do not leak the handle (start-up retries, db/unavailable-at-start.ts).
    db.close();
    throw err;
  }
  return db;
}

/**
 * Creates `file` empty with mode 0600 (an empty file is an empty database to SQLite), or narrows an
 * existing database and its -wal/-shm/-journal files to 0600 (files made before this rule).
 */
function createOwnerOnly(file: string): void {
  try {
    fs.writeFileSync(file, '', { mode: DATABASE_FILE_MODE, flag: 'wx' });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    let mode: number;
    try {
      mode = fs.statSync(f).mode & 0o777;
    } catch {
      continue;
    }
    if ((mode & 0o077) !== 0) fs.chmodSync(f, DATABASE_FILE_MODE);
  }
}

/** Seconds since the epoch: every timestamp column stores this. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
