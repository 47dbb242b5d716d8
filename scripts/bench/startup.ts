// Start-up and idle memory of the real entry point (issue 11 item 5: start-up to first request
// under 1 s on a migrated database, RSS under 100 MiB idle after start). `node src/server.ts` is
// started on a migrated, seeded (small) database whose keys already exist (a first start made
// them), pinned like the other children; the time runs from spawn to the first 200 answer to AS
// metadata (polled every 5 ms), and RSS is read from /proc after a few idle seconds. Three starts
// (one with --quick); the median counts. Loopback only. The server runs with the systemd unit's
// environment (unit-env.ts: NODE_OPTIONS, MALLOC_ARENA_MAX, a warmed NODE_COMPILE_CACHE).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { AS_METADATA_PATH } from './cases.ts';
import { LOOPBACK } from './load.ts';
import { benchUnitEnvironment } from './unit-env.ts';

export interface StartupReport {
  /** Median of the attempts, ms from spawn to the first 200. */
  startupMs: number;
  attempts: number[];
  firstPath: string;
  /** RSS (bytes) of the last start, `idleSeconds` after its first answer. */
  idleRss: number;
  idleSeconds: number;
}

const IDLE_SECONDS = 3;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, LOOPBACK, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function answers200(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: LOOPBACK, port, path: AS_METADATA_PATH, headers: { host: `localhost:${port}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
  });
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One start: ms to the first 200, and (if asked) RSS after IDLE_SECONDS. Stops the server. */
async function startOnce(root: string, dir: string, dbFile: string, cpu: number | undefined, logLevel: string, readRss: boolean): Promise<{ ms: number; rss?: number }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...benchUnitEnvironment(), DATA_DIR: dir, DATABASE_FILE: dbFile, PORT: String(port), LOG_LEVEL: logLevel };
  const nodeArgs = [path.join(root, 'src/server.ts')];
  const [command, args] = cpu === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(cpu), process.execPath, ...nodeArgs]];
  const started = performance.now();
  // cwd is the data directory: no .env file is read from the checkout.
  const proc = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  proc.once('exit', () => (exited = true));
  try {
    while (!(await answers200(port))) {
      if (exited) throw new Error(`node src/server.ts exited before answering (code ${proc.exitCode})`);
      if (performance.now() - started > 30_000) throw new Error('node src/server.ts did not answer within 30 s');
      await pause(5);
    }
    const ms = performance.now() - started;
    let rss: number | undefined;
    if (readRss && proc.pid !== undefined) {
      await pause(IDLE_SECONDS * 1000);
      rss = rssOf(proc.pid);
    }
    return { ms, rss };
  } finally {
    if (!exited) {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await done;
      clearTimeout(killer);
    }
  }
}

/** `dbFile` must be a migrated database in `dir`. */
export async function measureStartup(root: string, dir: string, dbFile: string, cpu: number | undefined, logLevel: string, attemptCount: number): Promise<StartupReport> {
  // The first start creates the development keys (as an operator's first start would); not counted.
  await startOnce(root, dir, dbFile, cpu, logLevel, false);
  const attempts: number[] = [];
  let idleRss = 0;
  for (let i = 0; i < attemptCount; i++) {
    const last = i === attemptCount - 1;
    const r = await startOnce(root, dir, dbFile, cpu, logLevel, last);
    attempts.push(r.ms);
    if (r.rss !== undefined) idleRss = r.rss;
  }
  const sorted = [...attempts].sort((a, b) => a - b);
  return { startupMs: sorted[Math.floor(sorted.length / 2)] ?? 0, attempts, firstPath: AS_METADATA_PATH, idleRss, idleSeconds: IDLE_SECONDS };
}
