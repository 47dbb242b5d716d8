// Every statement the SQLite repositories prepare (src/storage/sqlite/repositories.ts and the
// *.repo.ts files it wraps), with its query plan, is kept in statement-plans.txt next to this file.
// A plan that changes (a new index, a changed WHERE, a SQLite upgrade) fails this test until the
// file is updated (`npx vitest run test/db/statement-plans.test.ts -u`) and the change reviewed:
// round 7 found a statement run by every refresh that SQLite had planned on the wrong one of two
// partial indexes, reading a week of rotated tokens per call (docs/benchmarks.md, "Round 7").
// Separately, no statement may scan a table whole: each of these runs on a request's path.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { createSqliteRepositories } from '../../src/storage/sqlite/repositories.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statement-plans-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The SQL of every statement createSqliteRepositories prepares, in order, once each. */
function repositoryStatements(db: Db): string[] {
  const seen = new Set<string>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    seen.add(source);
    return prepare(source);
  }) as Db['prepare'];
  try {
    createSqliteRepositories(db);
  } finally {
    db.prepare = prepare;
  }
  return [...seen];
}

/** EXPLAIN QUERY PLAN of `sql`, its parameters bound to NULL (named ones by name, `?` by trying counts). */
function planOf(db: Db, sql: string): string[] {
  const explain = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const named = Object.fromEntries([...sql.matchAll(/[@:$]([A-Za-z_]\w*)/g)].map((m) => [m[1]!, null]));
  for (let positional = 0; positional <= 32; positional++) {
    const args: unknown[] = Array<null>(positional).fill(null);
    if (Object.keys(named).length > 0) args.push(named);
    try {
      return (explain.all(...args) as { detail: string }[]).map((row) => row.detail);
    } catch (err) {
      if (!/Too few parameter values/.test(String(err))) throw err;
    }
  }
  throw new Error(`more than 32 parameters: ${sql}`);
}

describe('the SQLite repositories: query plans', () => {
  const db = openDatabase(path.join(dir, 'db.sqlite'));
  migrate(db);
  const plans = repositoryStatements(db).map((sql) => ({ sql: sql.replace(/\s+/g, ' ').trim(), plan: planOf(db, sql) }));

  it('finds every row through an index: no statement scans a table whole', () => {
    expect(plans.length).toBeGreaterThan(40);
    // `SCAN CONSTANT ROW` reads no table (SELECT total_changes(), bearer-lookups.ts).
    const scans = plans.filter((p) => p.plan.some((detail) => detail.startsWith('SCAN ') && detail !== 'SCAN CONSTANT ROW')).map((p) => `${p.sql}  →  ${p.plan.join(' | ')}`);
    expect(scans).toEqual([]);
  });

  it('drops closed grace windows (every rotation, and the purge) through the sealed rows only, not every rotated token', () => {
    const drop = plans.filter((p) => /SET successor_sealed = NULL/.test(p.sql));
    expect(drop).toHaveLength(1);
    // refresh_tokens_rotated would also serve `rotated_at <= ?`: a week of rotated tokens looked at
    // on every refresh (the planner's own choice before round 7).
    expect(drop[0]!.plan).toEqual(['SEARCH refresh_tokens USING INDEX refresh_tokens_sealed (rotated_at<?)']);
  });

  it('keeps the plans reviewed in statement-plans.txt', async () => {
    const text = [...plans]
      .sort((a, b) => a.sql.localeCompare(b.sql))
      .map((p) => [p.sql, ...p.plan.map((detail) => `    ${detail}`)].join('\n'))
      .join('\n\n');
    await expect(`${text}\n`).toMatchFileSnapshot('./statement-plans.txt');
  });
});
