// Issue 9, finding 10: database files are owner-only (0600) in development too, whatever the
// umask: the main file, its -wal and -shm, and backups, from before the first byte is written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';
import { backupDatabase } from '../../src/db/backup.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';

let dir: string;
let previousUmask: number;
const opened: Db[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-modes-'));
  // A common development umask: files would be world-readable (0644) unless created 0600.
  previousUmask = process.umask(0o022);
});
afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  process.umask(previousUmask);
  fs.rmSync(dir, { recursive: true, force: true });
});

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

function openWithData(file: string): Db {
  const db = openDatabase(file);
  opened.push(db);
  db.exec('CREATE TABLE t (x TEXT)');
  db.prepare('INSERT INTO t VALUES (?)').run('secret');
  return db;
}

describe('database files are created 0600', () => {
  it('the SQLite file and its -wal and -shm, under umask 022', () => {
    const file = path.join(dir, 'db', 'robot-auth.sqlite');
    openWithData(file);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      expect(fs.existsSync(f), f).toBe(true);
      expect(modeOf(f).toString(8), f).toBe('600');
    }
  });

  it('a development context (the default data directory layout) creates its database 0600', async () => {
    const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' });
    const ctx = await createContext(config);
    try {
      expect(modeOf(config.databaseFile).toString(8)).toBe('600');
      expect(modeOf(`${config.databaseFile}-wal`).toString(8)).toBe('600');
    } finally {
      ctx.close();
    }
  });

  it('narrows a database created world-readable before this rule', () => {
    const file = path.join(dir, 'old.sqlite');
    const old = openWithData(file);
    old.close();
    fs.chmodSync(file, 0o644);
    const reopened = openDatabase(file);
    opened.push(reopened);
    reopened.prepare('INSERT INTO t VALUES (?)').run('more');
    expect(modeOf(file).toString(8)).toBe('600');
    expect(modeOf(`${file}-wal`).toString(8)).toBe('600');
  });

  it('backups, including the pre-migration kind', async () => {
    const db = openWithData(path.join(dir, 'live.sqlite'));
    const target = path.join(dir, 'backups', 'copy.sqlite');
    await backupDatabase(db, target);
    expect(modeOf(target).toString(8)).toBe('600');
    for (const leftover of [`${target}-wal`, `${target}-shm`, `${target}-journal`]) {
      if (fs.existsSync(leftover)) expect(modeOf(leftover).toString(8), leftover).toBe('600');
    }
  });
});
