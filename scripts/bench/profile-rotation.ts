// In-process cost of the refresh rotation transaction (src/oauth/token/refresh-rotation.ts), no HTTP
// and no signing: the whole transaction with SQLite's automatic checkpoints and with the checkpoint
// worker (src/db/checkpoints.ts), and the transaction's statements one by one.
//   taskset -c 1 node scripts/bench/profile-rotation.ts [--large]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';
import { startCheckpointer } from '../../src/db/checkpoints.ts';
import { createGrantsRepo } from '../../src/oauth/grants/grants.repo.ts';
import { rotateRefreshToken } from '../../src/oauth/token/refresh-rotation.ts';
import { createRefreshTokensRepo } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { createPools } from './pools.ts';
import { buildDatabase, QUICK_LARGE, SMALL } from './seed.ts';

const { values: flags } = parseArgs({ options: { large: { type: 'boolean', default: false }, n: { type: 'string', default: '5000' } } });
const scale = flags.large ? QUICK_LARGE : SMALL;
const N = Number(flags.n);

/**
 * CPU time per call (the whole process, every thread: what a busy shared machine disturbs least),
 * and the wall-clock p99 and maximum of single calls (where a checkpoint inside a commit shows).
 */
function time(name: string, n: number, fn: (i: number) => unknown): void {
  const walls = new Float64Array(n);
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn(i);
    walls[i] = performance.now() - t;
  }
  const used = process.cpuUsage(cpu);
  walls.sort();
  const us = (ms: number) => (ms * 1000).toFixed(0).padStart(7);
  console.log(
    `${name.padEnd(72)} cpu ${(((used.user + used.system) / n)).toFixed(1).padStart(7)} µs  p99 ${us(walls[Math.floor(n * 0.99)] ?? 0)} µs  max ${us(walls[n - 1] ?? 0)} µs`,
  );
}

/** time(), for an async call (the store's rotation): each call awaited before the next. */
async function timeAsync(name: string, n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  const walls = new Float64Array(n);
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    walls[i] = performance.now() - t;
  }
  const used = process.cpuUsage(cpu);
  walls.sort();
  const us = (ms: number) => (ms * 1000).toFixed(0).padStart(7);
  console.log(
    `${name.padEnd(72)} cpu ${(((used.user + used.system) / n)).toFixed(1).padStart(7)} µs  p99 ${us(walls[Math.floor(n * 0.99)] ?? 0)} µs  max ${us(walls[n - 1] ?? 0)} µs`,
  );
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-rotation-'));
try {
  const file = path.join(dir, 'app.sqlite');
  buildDatabase(file, scale);
  const ctx = await createContext(parseConfig({ DATA_DIR: dir, DATABASE_FILE: file, LOG_LEVEL: 'silent' }));
  // The statements themselves: the SQLite store's repositories, synchronously, on the app's connection.
  const db = ctx.sqlite!.db;
  const refreshTokens = createRefreshTokensRepo(db);
  const grants = createGrantsRepo(db);
  const pools = createPools(ctx, scale);
  const fresh = (n: number) => {
    const values = pools.refreshPool(n).map((b) => new URLSearchParams(b).get('refresh_token') ?? '');
    const clientIds = values.map((v) => {
      const presented = refreshTokens.findByValue(v);
      return (presented && grants.findById(presented.grantId)?.clientId) ?? '';
    });
    return { values, clientIds };
  };
  const rotateAll = async (name: string) => {
    const { values, clientIds } = fresh(N);
    await timeAsync(name, N, async (i) => {
      const outcome = await rotateRefreshToken(ctx, clientIds[i] ?? '', values[i] ?? '', () => undefined);
      if (outcome.kind !== 'issued') throw new Error(`refresh not issued: ${outcome.kind}`);
    });
  };
  console.log(`${scale.grants} grants; ${N} rotations per line`);
  await rotateAll('warm-up');
  await rotateAll('rotation transaction, SQLite automatic checkpoints (in the commit)');
  const checkpointer = startCheckpointer(db, file, console);
  await rotateAll('rotation transaction, checkpoint worker (wal_autocheckpoint 0)');
  await checkpointer.stop();

  const { values } = fresh(N);
  const hashes = values.map((v) => refreshTokens.findByValue(v)?.hash ?? '');
  const grantIds = values.map((v) => refreshTokens.findByValue(v)?.grantId ?? '');
  const now = Math.floor(Date.now() / 1000);
  console.log('statements, each in its own implicit transaction (commit included for writes):');
  time('SELECT refresh token by hash', N, (i) => refreshTokens.findByValue(values[i] ?? ''));
  time('SELECT live grant JOIN users', N, (i) => grants.findLive(grantIds[i] ?? ''));
  db.transaction(() => {
    time('  in one transaction: INSERT successor', N, (i) => refreshTokens.insert(grantIds[i] ?? '', 3600));
    time('  in one transaction: UPDATE grant expiry', N, (i) => grants.extend(grantIds[i] ?? '', now + 3600));
    time('  in one transaction: UPDATE drop closed grace windows', N, () => refreshTokens.dropSealedSuccessors(now - 60));
    time('  in one transaction: UPDATE rotate (compare-and-swap)', N, (i) => refreshTokens.markRotated(hashes[i] ?? '', 'x'));
  })();
  time('empty IMMEDIATE transaction (BEGIN + COMMIT)', N, () => db.transaction(() => undefined).immediate());
  ctx.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
