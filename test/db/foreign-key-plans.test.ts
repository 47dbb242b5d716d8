// Deleting a parent row (a user, a wiki, a client, a grant) runs in a write transaction on the event
// loop: SQLite finds its children (ON DELETE CASCADE / SET NULL, and the foreign-key count) through
// an index on the child column, and only through one whose collation is the parent column's.
// Without it each deletion reads the whole child table: deleting a wiki read all of oauth_grants
// twice (280-380 ms on the benchmark's 1M grants) until migrations/018-wiki-indexes-nocase.sql.
// EXPLAIN QUERY PLAN does not show the foreign-key programs; EXPLAIN (the bytecode, with each
// trigger program listed after its caller) does: a full scan is a Rewind (or Last) on a cursor of a
// table or index.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase, type Db } from '../../src/db/open.ts';
import { createSqliteRepositories } from '../../src/storage/sqlite/repositories.ts';
import { removeWikiRow } from '../../src/storage/sqlite/wikis-admin.ts';

let dir: string;
let db: Db;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fk-plans-'));
  db = openDatabase(path.join(dir, 'db.sqlite'));
  migrate(db);
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Op {
  addr: number;
  opcode: string;
  p1: number;
  p2: number;
}

/** The tables and indexes a statement's bytecode (its trigger programs included) reads from first row to last. */
function fullScans(sql: string): string[] {
  const names = new Map((db.prepare('SELECT rootpage, name FROM sqlite_schema WHERE rootpage > 0').all() as { rootpage: number; name: string }[]).map((r) => [r.rootpage, r.name]));
  const ops = db.prepare(`EXPLAIN ${sql}`).all('x') as Op[];
  const scans: string[] = [];
  let cursors = new Map<number, string>();
  for (const op of ops) {
    if (op.addr === 0) cursors = new Map(); // the next program: its own cursors
    if (op.opcode === 'OpenRead' || op.opcode === 'OpenWrite') cursors.set(op.p1, names.get(op.p2) ?? `root page ${op.p2}`);
    // A cursor not opened on the schema's pages is an ephemeral table (the cascade's row set): not a scan of the database.
    if ((op.opcode === 'Rewind' || op.opcode === 'Last') && cursors.has(op.p1)) scans.push(cursors.get(op.p1)!);
  }
  return scans;
}

/** Every statement `fn` prepares, with the arguments it ran with (as purge-plans.test.ts). */
function statementsOf(fn: () => unknown): [string, unknown[]][] {
  const seen: [string, unknown[]][] = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const statement = prepare(source) as Database.Statement<unknown[]>;
    for (const method of ['run', 'get', 'all'] as const) {
      const original = statement[method].bind(statement) as (...args: unknown[]) => unknown;
      (statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        seen.push([source, args]);
        return original(...args);
      };
    }
    return statement;
  }) as Db['prepare'];
  try {
    fn();
  } finally {
    db.prepare = prepare;
  }
  return seen;
}

describe('foreign keys: a parent row is deleted without scanning a child table', () => {
  it('every parent table of the schema, by its primary key', () => {
    const parents = db
      .prepare(`SELECT DISTINCT f."table" FROM sqlite_schema s, pragma_foreign_key_list(s.name) f WHERE s.type = 'table' ORDER BY 1`)
      .pluck()
      .all() as string[];
    // The test must see the parents the product deletes (no vacuous pass).
    expect(parents).toEqual(expect.arrayContaining(['oauth_clients', 'oauth_grants', 'users', 'wikis']));
    for (const parent of parents) {
      const key = db.prepare('SELECT name FROM pragma_table_info(?) WHERE pk = 1').pluck().get(parent) as string;
      expect(fullScans(`DELETE FROM ${parent} WHERE ${key} = ?`), parent).toEqual([]);
    }
  });

  it("a wiki's grants are found through oauth_grants_wiki when it is deleted and when wikis are listed", async () => {
    const now = nowSeconds();
    db.prepare('INSERT INTO users (did, handle, username, created_at, last_login_at) VALUES (?, ?, ?, ?, ?)').run('did:plc:a', 'a.test', 'alice', now, now);
    db.prepare('INSERT INTO wikis (slug, owner_did, created_at) VALUES (?, ?, ?)').run('alice', 'did:plc:a', now);
    const { repos } = createSqliteRepositories(db);
    let listing: Promise<unknown> | undefined;
    const statements = [
      ...statementsOf(() => db.transaction(() => removeWikiRow(db, { slug: 'alice', ownerDid: 'did:plc:a', createdAt: now }, 'alice', 'owner'))()),
      ...statementsOf(() => (listing = repos.operator.listWikis(null))),
    ];
    await listing;
    const grantReads = statements.filter(([sql]) => /oauth_grants/.test(sql));
    expect(grantReads.length).toBe(3);
    for (const [sql, args] of grantReads) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail);
      expect(plan.filter((d) => /oauth_grants/.test(d)), sql).toEqual([expect.stringMatching(/^SEARCH (\w+ )?USING (COVERING )?INDEX oauth_grants_wiki \(wiki_slug=\?\)/)]);
    }
  });
});
