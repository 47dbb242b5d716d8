// Start-up to first request on a migrated database, and the RSS of an idle server: starts
// `node src/server.ts` on a temporary data directory (a first start migrates and generates keys;
// it is not counted), then N more times, each until GET /healthz answers 200; prints the wall time,
// the process's CPU time and its RSS at that moment and again after 2 s idle.
// The server runs with the systemd unit's environment (unit-env.ts: NODE_OPTIONS, MALLOC_ARENA_MAX, a
// warmed NODE_COMPILE_CACHE), as operators run it; --bare: Node's defaults instead.
//   node scripts/bench/profile-startup.ts [--runs 5] [--bare] [--node-options="--cpu-prof --cpu-prof-dir=DIR"]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchUnitEnvironment, describeUnitEnvironment } from './unit-env.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: flags } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, bare: { type: 'boolean', default: false }, 'node-options': { type: 'string', default: '' } },
});
const settings = flags.bare ? {} : benchUnitEnvironment();

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** [RSS MiB, CPU ms (user + system)] of a live process, from /proc. */
function procFigures(pid: number): [number, number] {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0);
  return [rssKb / 1024, (ticks * 1000) / 100];
}

async function startOnce(dir: string): Promise<{ ms: number; cpuMs: number; rss: number; idleRss: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...flags['node-options'].split(' ').filter(Boolean), 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...settings, DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'development' },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (performance.now() - started > 120_000) throw new Error("no answer in 120 s");
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - started;
    const [rss, cpuMs] = procFigures(child.pid ?? 0);
    await new Promise((r) => setTimeout(r, 2000));
    const [idleRss] = procFigures(child.pid ?? 0);
    return { ms, cpuMs, rss, idleRss };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-startup-'));
try {
  await startOnce(dir); // migrates, generates keys
  console.log(flags.bare ? "Node's defaults" : describeUnitEnvironment());
  console.log('run  to first 200 (ms)  CPU (ms)  RSS then (MiB)  RSS after 2 s idle (MiB)');
  const runs = [];
  for (let i = 0; i < Number(flags.runs); i++) {
    const r = await startOnce(dir);
    runs.push(r);
    console.log(`${String(i + 1).padStart(3)}  ${r.ms.toFixed(0).padStart(18)}  ${r.cpuMs.toFixed(0).padStart(8)}  ${r.rss.toFixed(1).padStart(14)}  ${r.idleRss.toFixed(1).padStart(24)}`);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  console.log(
    `median: ${median(runs.map((r) => r.ms)).toFixed(0)} ms to first 200, ${median(runs.map((r) => r.cpuMs)).toFixed(0)} ms CPU, idle RSS ${median(runs.map((r) => r.idleRss)).toFixed(1)} MiB`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
