// Transactions run BEGIN IMMEDIATE (src/db/instrument.ts): with a second process on the same file
// (a second instance, the admin CLI), a deferred transaction that read and then wrote failed at once
// with SQLITE_BUSY_SNAPSHOT when the other connection wrote in between (seen as a 503 from the
// surviving instance in test/deploy/several-instances.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { instrumentWrites } from '../../src/db/instrument.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function twoConnections(): { app: Database.Database; other: Database.Database } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-immediate-'));
  dirs.push(dir);
  const file = path.join(dir, 'db.sqlite');
  const app = new Database(file);
  app.pragma('journal_mode = WAL');
  app.exec('CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counters VALUES (1, 0)');
  instrumentWrites(app, { metrics: { databaseWrite() {} }, storage: { fault() {}, writeSucceeded() {} } });
  const other = new Database(file);
  other.pragma('busy_timeout = 0');
  return { app, other };
}

describe('write transactions across connections', () => {
  it('a read-then-write transaction holds the write lock from its start: a write from elsewhere in between waits, ours commits', () => {
    const { app, other } = twoConnections();
    const bump = app.transaction(() => {
      const { n } = app.prepare('SELECT n FROM counters WHERE id = 1').get() as { n: number };
      // Another process writes between our read and our write.
      expect(() => other.prepare('UPDATE counters SET n = n + 100 WHERE id = 1').run()).toThrow(/SQLITE_BUSY|database is locked/);
      app.prepare('UPDATE counters SET n = ? WHERE id = 1').run(n + 1);
    });
    bump();
    expect((other.prepare('SELECT n FROM counters WHERE id = 1').get() as { n: number }).n).toBe(1);
    app.close();
    other.close();
  });

  it('.deferred stays available and behaves as SQLite documents (the upgrade fails)', () => {
    const { app, other } = twoConnections();
    const bump = app.transaction(() => {
      const { n } = app.prepare('SELECT n FROM counters WHERE id = 1').get() as { n: number };
      other.prepare('UPDATE counters SET n = n + 100 WHERE id = 1').run();
      app.prepare('UPDATE counters SET n = ? WHERE id = 1').run(n + 1);
    });
    expect(() => bump.deferred()).toThrow(/SQLITE_BUSY|database is locked/);
    app.close();
    other.close();
  });
});
