// One bounded load run against a loopback port with autocannon, and a single probe request to
// check a case answers 2xx before it is measured. Nothing here ever talks to a non-loopback address.
import http from 'node:http';
import autocannon, { type RequestSpec } from 'autocannon';

export const LOOPBACK = '127.0.0.1';

export interface RunResult {
  connections: number;
  /** Seconds actually run. */
  duration: number;
  /** 2xx responses per second. */
  rps: number;
  /** Milliseconds (2xx responses only). */
  p50: number;
  p99: number;
  /** The slowest 2xx answer (ms). */
  max: number;
  mean: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Average cores other processes used during the run (see cpu-noise.ts); undefined off Linux. */
  foreignCores?: number;
  /** CPU time of the app process (all threads: the RSA work runs in libuv's pool) per 2xx response, µs. */
  cpuUsPerRequest?: number;
  /** Runs thrown away before this one because other processes disturbed them. */
  retries?: number;
  /** PostgreSQL runs: CPU time of the database server's processes per 2xx response, µs. */
  databaseCpuUsPerRequest?: number;
  /** Cores the load generator used during the run (cpu-noise.ts): near 1, it limited the run, not the app. */
  loadGeneratorCores?: number;
  /** Write transactions the store committed during the run (scripts/bench/stores.ts). */
  writes?: { transactions: number; perSecond: number; walBytes?: number; statements?: number };
}

export async function runLoad(port: number, requests: RequestSpec[], connections: number, seconds: number): Promise<RunResult> {
  // autocannon's own latency histogram keeps whole milliseconds; loopback answers take less, so
  // every 2xx response time is kept here and the percentiles are computed exactly.
  const latencies: number[] = [];
  const tracker = autocannon({ url: `http://${LOOPBACK}:${port}`, connections, duration: seconds, requests, timeout: 10 });
  // autocannon's clock starts before it builds each connection's prebuilt requests (512 tokens × c
  // of them for a read case), its run timer after: the run's time counts from its 'start' event,
  // emitted once they are built, or that setup would be counted as time the app did not answer.
  let started = performance.now();
  tracker.on('start', () => {
    started = performance.now();
  });
  tracker.on('response', (_client, statusCode, _bytes, ms) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(ms);
  });
  const r = await tracker;
  const ran = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats)) statusCodes[code] = count;
  return {
    connections,
    duration: ran,
    rps: r['2xx'] / ran,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    mean: sorted.length === 0 ? 0 : latencies.reduce((a, b) => a + b, 0) / sorted.length,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
  };
}

/** Nearest-rank percentile of sorted values (0 when there are none). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

/** Builds the request autocannon would send next (setupRequest applied), without sending it. */
export function materialize(spec: RequestSpec): RequestSpec {
  const base: RequestSpec = { method: 'GET', path: '/', ...spec, headers: { ...spec.headers } };
  return spec.setupRequest ? spec.setupRequest(base, {}) : base;
}

/** Sends one request; resolves with its status and body. */
export function probe(port: number, spec: RequestSpec): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const req = materialize(spec);
  return new Promise((resolve, reject) => {
    const body = req.body ?? '';
    const headers: Record<string, string> = { ...req.headers, 'content-length': String(Buffer.byteLength(body)) };
    const r = http.request({ host: LOOPBACK, port, method: req.method ?? 'GET', path: req.path ?? '/', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    r.on('error', reject);
    r.end(body);
  });
}
