// A stand-alone reproduction of SQLite scanning its whole page cache at every COMMIT
// (docs/benchmarks.md, "Round 6: found: every COMMIT scans SQLite's whole page cache"): a WAL
// database with a random-key table, then groups of inserts and updates, each group one COMMIT, as
// the store's group commit writes refresh rotations. Prints the mean time of a COMMIT and of a
// group. Under `perf record`, `pcache1TruncateUnsafe` takes a share that grows with --cache-kib;
// under gdb, a breakpoint there shows the cache's largest key (`iMaxKey`, at offset 44 of its
// first argument) at 262,145, the lock-byte page's number, which balance_nonroot uses as a
// temporary key when it swaps two pages.
//   node scripts/bench/commit-scan.ts [--cache-kib 16000] [--rows 60000] [--groups 3000] [--no-inserts]
//   perf record -g -o /tmp/scan.data node --perf-basic-prof-only-functions scripts/bench/commit-scan.ts
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const { values: flags } = parseArgs({
  allowNegative: true,
  options: {
    'cache-kib': { type: 'string', default: '16000' },
    rows: { type: 'string', default: '60000' },
    groups: { type: 'string', default: '3000' },
    'group-size': { type: 'string', default: '8' },
    // Each unit also inserts a new row (the successor), as a rotation does; without it, updates only.
    inserts: { type: 'boolean', default: true },
  },
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'commit-scan-'));
const db = new Database(path.join(dir, 'scan.sqlite'));
try {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`cache_size = -${Number(flags['cache-kib'])}`);
  db.exec(
    'CREATE TABLE t (hash TEXT PRIMARY KEY, grant_id TEXT, expires_at INTEGER, rotated_at INTEGER, successor TEXT) WITHOUT ROWID; CREATE INDEX t_expires ON t (expires_at);',
  );
  const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, NULL, NULL)');
  const hashes: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < Number(flags.rows); i++) {
      const hash = crypto.randomBytes(32).toString('hex');
      hashes.push(hash);
      insert.run(hash, `g${i % 1000}`, i);
    }
  })();
  const find = db.prepare('SELECT * FROM t WHERE hash = ?');
  const rotate = db.prepare('UPDATE t SET rotated_at = ?, successor = ? WHERE hash = ?');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const size = Number(flags['group-size']);
  let commitNs = 0n;
  let groupNs = 0n;
  const groups = Number(flags.groups);
  for (let g = 0; g < groups; g++) {
    const start = process.hrtime.bigint();
    begin.run();
    for (let u = 0; u < size; u++) {
      const hash = hashes[(g * size + u) % hashes.length]!;
      find.get(hash);
      const successor = crypto.randomBytes(32).toString('hex');
      if (flags.inserts) insert.run(successor, 'g1', 1e9 + g * size + u);
      rotate.run(g, successor, hash);
    }
    const beforeCommit = process.hrtime.bigint();
    commit.run();
    const end = process.hrtime.bigint();
    commitNs += end - beforeCommit;
    groupNs += end - start;
    if (g % 500 === 499) db.pragma('wal_checkpoint(PASSIVE)');
  }
  const us = (ns: bigint) => (Number(ns) / groups / 1000).toFixed(1);
  console.log(`cache ${flags['cache-kib']} KiB, ${flags.rows} rows, groups of ${size}${flags.inserts ? '' : ' (updates only)'}: COMMIT ${us(commitNs)} µs, group ${us(groupNs)} µs`);
} finally {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
