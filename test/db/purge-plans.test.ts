// The scheduled purge runs in one transaction on the event loop (src/server.ts, every 10 minutes):
// each of its statements must find its rows through an index, not by scanning the table, or the
// pause grows with the database (250 ms of CPU on the bench's 1M-grant database before
// migrations/015-purge-indexes.sql, 16 ms after). The one scan left is oauth_clients (see below).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { purgeExpired } from '../../src/db/purge.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Every statement purgeExpired prepares, with the arguments it ran with. */
function purgeStatements(db: Db): [string, unknown[]][] {
  const seen: [string, unknown[]][] = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const statement = prepare(source) as Database.Statement<unknown[]>;
    const run = statement.run.bind(statement);
    statement.run = (...args: unknown[]) => {
      seen.push([source, args]);
      return run(...args);
    };
    return statement;
  }) as Db['prepare'];
  purgeExpired(db, { clientIdleSeconds: 90 * 24 * 60 * 60 });
  db.prepare = prepare;
  return seen;
}

describe('purgeExpired: query plans', () => {
  it('finds the rows of every table through an index (no full scan that grows with the database)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'purge-plans-'));
    dirs.push(dir);
    const db = openDatabase(path.join(dir, 'db.sqlite'));
    migrate(db);
    const statements = purgeStatements(db);
    expect(statements.length).toBeGreaterThan(10);
    const scans: string[] = [];
    for (const [sql, args] of statements) {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[];
      for (const { detail } of plan) {
        // The client purge's idle test is an OR over an expression: it scans oauth_clients (one row
        // per client, 16 ms at 100k clients); an index for it would cost a write on every token issued.
        if (/^SCAN /.test(detail) && !/^SCAN c$/.test(detail)) scans.push(`${detail}  ←  ${sql.replace(/\s+/g, ' ').slice(0, 80)}`);
      }
    }
    expect(scans).toEqual([]);
    db.close();
  });

});
