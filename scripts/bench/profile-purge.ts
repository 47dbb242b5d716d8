// The scheduled purge (src/db/purge.ts) on a copy of a seeded database: how long its one
// transaction holds the event loop (it runs in-process every PURGE_INTERVAL_MS), and each
// statement's plan. Nothing is due on a fresh bench database, so this is the cost of FINDING the
// rows: a full scan per statement without an index, a short index range with one.
//   taskset -c 1 node scripts/bench/profile-purge.ts [--db=FILE]     (without --db: the small bench database)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { migrate } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/open.ts';
import { purgeExpired } from '../../src/db/purge.ts';
import { buildDatabase, SMALL } from './seed.ts';

const { values } = parseArgs({ options: { db: { type: 'string' } } });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-purge-'));
try {
  const file = path.join(dir, 'app.sqlite');
  if (values.db) fs.copyFileSync(values.db, file);
  else buildDatabase(file, SMALL);
  const db = openDatabase(file);
  const t0 = performance.now();
  const applied = migrate(db);
  console.log(`migrations applied: ${applied.join(', ') || 'none'} (${(performance.now() - t0).toFixed(0)} ms)`);
  const options = { clientIdleSeconds: 90 * 24 * 60 * 60 };
  for (let i = 0; i < 3; i++) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    const counts = purgeExpired(db, options);
    const used = process.cpuUsage(cpu);
    const deleted = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`purge ${i + 1}: ${(performance.now() - t).toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU, ${deleted} rows deleted`);
  }
  db.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
