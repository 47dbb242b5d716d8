// RSS of the memory child (memory.ts: N refresh issuances in-process) under different process
// settings, side by side in one run: which of glibc's arenas, V8's young generation and the
// ATProto/MCP libraries the RSS goes to. Each variant runs in a fresh process on a fresh copy of
// the small database.
//   node scripts/bench/profile-memory.ts [--issuances 20000] [--variants 0,4]   (indexes into VARIANTS; 4: as deployed)
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { MemoryReport } from './memory.ts';
import { buildDatabase, SMALL } from './seed.ts';
import { benchUnitEnvironment } from './unit-env.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({ options: { issuances: { type: 'string', default: '20000' }, variants: { type: 'string' } } });

interface Variant {
  name: string;
  env?: Record<string, string>;
  execArgv?: string[];
}

const VARIANTS: Variant[] = [
  { name: 'defaults' },
  { name: 'MALLOC_ARENA_MAX=2', env: { MALLOC_ARENA_MAX: '2' } },
  { name: '--max-semi-space-size=4 (MiB)', execArgv: ['--max-semi-space-size=4'] },
  { name: 'both', env: { MALLOC_ARENA_MAX: '2' }, execArgv: ['--max-semi-space-size=4'] },
  // What operators run, read from deploy/robot-auth.service (what npm run bench's memory child gets).
  { name: 'as deployed (the unit)', env: benchUnitEnvironment() },
];

const MiB = (b: number) => (b / 2 ** 20).toFixed(1);

async function run(v: Variant, tmp: string): Promise<MemoryReport> {
  const dir = fs.mkdtempSync(path.join(tmp, 'v-'));
  const db = path.join(dir, 'app.sqlite');
  buildDatabase(db, SMALL);
  const child = fork(path.join(HERE, 'memory.ts'), {
    execArgv: ['--expose-gc', ...(v.execArgv ?? [])],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dir,
      BENCH_DATABASE_FILE: db,
      BENCH_SCALE: JSON.stringify(SMALL),
      BENCH_ISSUANCES: flags.issuances,
      BENCH_CHAINS: '16',
      LOG_LEVEL: 'info',
      ...v.env,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.on('message', (m: { type: string; report: MemoryReport }) => {
      if (m.type === 'memory-report') resolve(m.report);
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${v.name}: exit ${code}`));
    });
  });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-memory-'));
try {
  console.log(`${flags.issuances} issuances each; MiB`);
  console.log('variant                          RSS before  RSS after  after GC  peak  heap used  heap committed  external  issuances/s');
  const chosen = flags.variants?.split(',');
  for (const v of VARIANTS.filter((_, i) => !chosen || chosen.includes(String(i)))) {
    const r = await run(v, tmp);
    console.log(
      `${v.name.padEnd(32)} ${MiB(r.rssBefore).padStart(10)} ${MiB(r.rssAfter).padStart(10)} ${MiB(r.rssAfterGc).padStart(9)} ${MiB(r.rssPeak).padStart(5)} ${MiB(r.heapUsedAfterGc).padStart(10)} ${MiB(r.heapTotalAfterGc).padStart(15)} ${MiB(r.externalAfterGc).padStart(9)} ${r.issuancesPerSecond.toFixed(0).padStart(12)}`,
    );
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
