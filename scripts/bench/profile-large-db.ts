// Small vs large database, in-process, no HTTP (issue 11: "no figure more than 1.2x worse on the
// large database"). On a copy of the bench's seeded database it measures, per operation, the CPU
// time of the whole process (every thread: the checkpoint worker's included) and the wall-clock p99
// and maximum of single operations:
//   - the bearer check's reads (checkBearer: wiki, grant JOIN users, revoked jti), warm and right
//     after a burst of writes (a WAL that no checkpoint has emptied yet);
//   - the refresh rotation transaction, one per event-loop turn (as requests arrive), with each way
//     of checkpointing the WAL: inside the commits (SQLite's default), the worker thread
//     (src/db/checkpoints.ts), and PASSIVE checkpoints on the main thread on a timer;
//   - the SQLite page cache and mmap settings, with RSS.
// Run it pinned, one core:
//   taskset -c 1 node scripts/bench/profile-large-db.ts --db=bench-results/cache/db-1000000-….sqlite [--n=10000]
// Without --db, the small bench database is built and used.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/env.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { startCheckpointer } from '../../src/db/checkpoints.ts';
import { createGrantsRepo } from '../../src/oauth/grants/grants.repo.ts';
import { rotateRefreshToken } from '../../src/oauth/token/refresh-rotation.ts';
import { createRefreshTokensRepo } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { signAccessToken } from '../../src/oauth/tokens/access-token.ts';
import { checkBearer } from '../../src/resource/check-bearer.ts';
import { accessTokenInput, createPools } from './pools.ts';
import { buildDatabase, grantUser, LARGE, SMALL, wikiSlug, type Scale } from './seed.ts';

const { values: flags } = parseArgs({
  options: {
    db: { type: 'string' },
    n: { type: 'string', default: '10000' },
    modes: { type: 'string', default: 'sqlite,worker,main' },
    pragmas: { type: 'string', default: '' },
  },
});
const N = Number(flags.n);
const scale: Scale = flags.db ? LARGE : SMALL;

interface Timing {
  cpuUs: number;
  p99Us: number;
  maxUs: number;
}

const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;

async function time(name: string, n: number, fn: (i: number) => unknown, perTurn = 1): Promise<Timing> {
  const walls = new Float64Array(n);
  const cpu = process.cpuUsage();
  const mainCpu = process.threadCpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    walls[i] = performance.now() - t;
    if (i % perTurn === 0) await turn(); // timers (a main-thread checkpoint) run between operations, as between requests
  }
  const used = process.cpuUsage(cpu);
  const mainUsed = process.threadCpuUsage(mainCpu);
  walls.sort();
  const mainUs = (mainUsed.user + mainUsed.system) / n;
  const r = { cpuUs: (used.user + used.system) / n, p99Us: (walls[Math.floor(n * 0.99)] ?? 0) * 1000, maxUs: (walls[n - 1] ?? 0) * 1000 };
  const over = (ms: number) => walls.filter((w) => w > ms).length;
  console.log(
    `${name.padEnd(64)} >10ms ${over(10)} >50ms ${over(50)} >200ms ${over(200)}  cpu ${r.cpuUs.toFixed(1).padStart(7)} µs (main thread ${mainUs.toFixed(1).padStart(6)})  p99 ${r.p99Us.toFixed(0).padStart(6)} µs  max ${r.maxUs.toFixed(0).padStart(7)} µs  rss ${mib(process.memoryUsage().rss)}`,
  );
  return r;
}

function walPages(file: string): number {
  try {
    return Math.round((fs.statSync(`${file}-wal`).size - 32) / 4120);
  } catch {
    return 0;
  }
}

/** PASSIVE checkpoints on the main thread every second; their durations (ms). */
function mainThreadCheckpointer(ctx: Pick<AppContext, 'sqlite'>) {
  const db = ctx.sqlite!.db;
  db.pragma('wal_autocheckpoint = 0');
  const durations: number[] = [];
  const timer = setInterval(() => {
    const t = performance.now();
    db.pragma('wal_checkpoint(PASSIVE)');
    durations.push(performance.now() - t);
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      db.pragma('wal_autocheckpoint = 1000');
      durations.sort((a, b) => a - b);
      const p = (q: number) => (durations[Math.floor((durations.length - 1) * q)] ?? 0).toFixed(1);
      console.log(`    main-thread checkpoints: ${durations.length}, median ${p(0.5)} ms, max ${p(1)} ms (each one blocks the event loop)`);
    },
  };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-large-db-'));
try {
  const file = path.join(dir, 'app.sqlite');
  if (flags.db) fs.copyFileSync(flags.db, file);
  else buildDatabase(file, scale);
  const ctx = await createContext(parseConfig({ DATA_DIR: dir, DATABASE_FILE: file, LOG_LEVEL: 'silent' }));
  // The statements themselves: the SQLite store's repositories, synchronously, on the app's connection.
  const db = ctx.sqlite!.db;
  const refreshTokens = createRefreshTokensRepo(db);
  const grants = createGrantsRepo(db);
  for (const p of flags.pragmas.split(',').filter(Boolean)) console.log(`PRAGMA ${p}: ${JSON.stringify(db.pragma(p))}`);
  console.log(`${scale.grants} grants, ${mib(fs.statSync(file).size)} file; ${N} operations per line; rss at start ${mib(process.memoryUsage().rss)}`);
  const pools = createPools(ctx, scale);

  // Bearer checks over 512 grants spread over the database, as the bench's verify case.
  const bearers = await Promise.all(
    Array.from({ length: 512 }, async (_, k) => {
      const g = (k * 104_729 + 2_000_010) % scale.grants;
      const { token } = await signAccessToken({ config: ctx.config, keys: ctx.platformKeys }, accessTokenInput(scale, g));
      return { auth: `Bearer ${token}`, slug: wikiSlug(grantUser(scale, g)) };
    }),
  );
  const verify = (i: number) => {
    const b = bearers[i % bearers.length];
    return b && checkBearer(ctx, b.auth, b.slug, 'wiki:read');
  };
  const fresh = (n: number) => {
    const values = pools.refreshPool(n).map((b) => new URLSearchParams(b).get('refresh_token') ?? '');
    const clientIds = values.map((v) => {
      const presented = refreshTokens.findByValue(v);
      return (presented && grants.findById(presented.grantId)?.clientId) ?? '';
    });
    return { values, clientIds };
  };
  const rotate = async (name: string) => {
    const { values, clientIds } = fresh(N);
    db.pragma('wal_checkpoint(TRUNCATE)'); // every mode starts from an empty WAL
    let maxWal = 0;
    await time(name, N, async (i) => {
      if (i % 100 === 0) maxWal = Math.max(maxWal, walPages(file));
      const outcome = await rotateRefreshToken(ctx, clientIds[i] ?? '', values[i] ?? '', () => undefined);
      if (outcome.kind !== 'issued') throw new Error(`refresh not issued: ${outcome.kind}`);
    });
    console.log(`    WAL: largest ${maxWal} pages during, ${walPages(file)} after`);
  };

  {
    // The refresh path's keyed rate limit reads the presented token and its grant before the
    // rotation reads them again (src/oauth/token/token-rate-limits.ts): their cost alone.
    const { values } = fresh(N);
    await time('rate-limit reads: refresh token by hash + grant by id', N, (i) => {
      const t = refreshTokens.findByValue(values[i] ?? '');
      return t && grants.findById(t.grantId);
    });
  }
  await time('checkBearer, first pass (grants touched: one write each)', 512, verify);
  await time('checkBearer, warm', N, verify);
  const modes = flags.modes.split(',');
  for (const mode of modes) {
    if (mode === 'sqlite') {
      await rotate('rotation, SQLite automatic checkpoints (in the commit)');
      await time('  checkBearer right after', N, verify);
    } else if (mode === 'worker') {
      const checkpointer = startCheckpointer(db, file, console);
      await rotate('rotation, checkpoint worker (wal_autocheckpoint 0)');
      // What the worker still has to copy lands on whatever runs next (in the bench: the next cases).
      const idle = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 5000));
      const used = process.cpuUsage(idle);
      console.log(`    CPU in the 5 s after, with nothing else running: ${((used.user + used.system) / 1000).toFixed(0)} ms (the worker catching up)`);
      await checkpointer.stop();
      db.pragma('wal_autocheckpoint = 1000');
    } else if (mode === 'main') {
      const checkpointer = mainThreadCheckpointer(ctx);
      await rotate('rotation, PASSIVE checkpoint on a 1 s main-thread timer');
      await time('  checkBearer right after', N, verify);
      checkpointer.stop();
    }
  }
  ctx.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
