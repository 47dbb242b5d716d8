// What each layer app.ts puts in front of every route costs: a trivial GET answered by an Express
// app with the same middleware added one layer at a time (same options as app.ts), the server
// pinned to CPU 1 and autocannon to CPU 0, 3 s per variant at concurrency 16. Used for the
// analysis in docs/benchmarks.md; not part of `npm run bench`.
//   node scripts/bench/middleware.ts
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { apiResponses } from '../../src/web/error-handler.ts';
import { noStore, rateLimit } from '../../src/web/http.ts';
import { createLogger } from '../../src/web/log.ts';
import { requestLog } from '../../src/web/request-log.ts';
import { securityHeaders } from '../../src/web/security-headers.ts';
import { listen } from './child-util.ts';
import { runLoad } from './load.ts';

const VARIANTS: { name: string; level: string; layers: number }[] = [
  { name: 'bare route', level: 'info', layers: 0 },
  { name: '+ request log (LOG_LEVEL=info)', level: 'info', layers: 1 },
  { name: '+ request log (LOG_LEVEL=warn)', level: 'warn', layers: 1 },
  { name: '+ request log (info) + security headers', level: 'info', layers: 2 },
  { name: '+ noStore, apiResponses, rateLimit', level: 'info', layers: 3 },
];

async function serve(level: string, layers: number): Promise<void> {
  const app = express();
  app.disable('x-powered-by');
  if (layers >= 1) {
    // The app's own request log (request logs go to /dev/null: the parent ignores stdout).
    app.use(requestLog(createLogger(level)));
  }
  if (layers >= 2) app.use(securityHeaders(false));
  const chain = layers >= 3 ? [noStore, apiResponses, rateLimit('verify', 1_000_000_000, { rateLimitTrustedNetworks: [] })] : [];
  app.get('/x', ...chain, (_req, res) => {
    res.status(200).set({ 'X-Auth-Did': 'did:plc:bench', 'X-Auth-Handle': 'bench.test' }).end();
  });
  const port = await listen(http.createServer(app));
  process.send?.({ port });
}

async function main(): Promise<void> {
  if (process.argv[2] === 'serve') return serve(process.argv[3] ?? 'info', Number(process.argv[4]));
  try {
    execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  } catch {
    // No taskset: unpinned.
  }
  for (const v of VARIANTS) {
    const script = fileURLToPath(import.meta.url);
    const child = spawn('taskset', ['-c', '1', process.execPath, script, 'serve', v.level, String(v.layers)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    try {
      const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve((m as { port: number }).port)));
      await runLoad(port, [{ path: '/x' }], 16, 1); // warm-up
      const r = await runLoad(port, [{ path: '/x' }], 16, 3);
      console.log(`${v.name.padEnd(40)} ${String(Math.round(r.rps)).padStart(7)} req/s  ${(1e6 / r.rps).toFixed(1).padStart(6)} µs/request`);
    } finally {
      child.kill();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
