// Sending one request both ways, through a light path (src/web/light-request.ts) and through
// Express alone, and comparing what each answered, logged and counted: machine-endpoints.test.ts
// and token-light-path.test.ts.
import http from 'node:http';
import { pino } from 'pino';
import { expect } from 'vitest';
import { lightPathSwitch } from '../../src/web/light-request.ts';
import { startTestApp, type TestApp } from './app.ts';

const APEX = 'localhost:3000';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

export interface Shot {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** The request body, sent with its Content-Length (unless a Transfer-Encoding header is given: then in two chunks). */
  body?: Buffer | string;
  /** Byte offsets at which the body is cut into separate writes (a client sending it in pieces). */
  split?: number[];
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The header names in the order they were sent, lower case. */
  names: string[];
  body: string;
}

export function send(port: number, shot: Shot): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: shot.method ?? 'GET', path: shot.path, headers: { host: APEX, ...shot.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, names, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const body = typeof shot.body === 'string' ? Buffer.from(shot.body) : shot.body;
    if (body === undefined) return req.end();
    if (shot.headers?.['transfer-encoding'] !== undefined) {
      req.write(body.subarray(0, 1));
      return req.end(body.subarray(1));
    }
    if (shot.headers?.['content-length'] === undefined) req.setHeader('content-length', body.length);
    let at = 0;
    for (const cut of shot.split ?? []) {
      req.write(body.subarray(at, cut));
      at = cut;
    }
    req.end(body.subarray(at));
  });
}

/**
 * The headers Node's HTTP writer places itself (after the app's, or where writeHead put them): their
 * values are compared, not their position. The order of every header the app sets must be the same
 * (RFC 9110 §5.3 makes the order of different fields insignificant; equal order is what says the
 * light path sets what Express's chain sets, step by step).
 */
const NODE_FRAMING = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

/** What must be equal: Date left out, the request id by shape, RateLimit's remaining count and reset by shape. */
export function normalised(a: Answer): Answer {
  const headers = { ...a.headers };
  delete headers.date;
  if (headers['x-request-id'] !== undefined) {
    expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    headers['x-request-id'] = '<id>';
  }
  if (typeof headers.ratelimit === 'string') headers.ratelimit = headers.ratelimit.replace(/r=\d+; t=\d+/, 'r=<r>; t=<t>');
  if (typeof headers['retry-after'] === 'string') headers['retry-after'] = '<t>';
  // An error page shows the request id: its length and ETag change with nothing else.
  const body = a.body.replace(UUID, '<id>');
  if (a.body !== body) {
    delete headers['content-length'];
    delete headers.etag;
  }
  return { status: a.status, headers, names: a.names.filter((n) => !NODE_FRAMING.has(n)), body };
}

export interface LogLine {
  level: number;
  msg: string;
  req: { id: string; method: string; url: string; host: string };
  res: { statusCode: number };
}

export async function started(env: Record<string, string>): Promise<{ app: TestApp; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  const app = await startTestApp(env, { listen: 'any-port', log });
  return { app, lines };
}

export async function requestCount(app: TestApp): Promise<Record<string, number>> {
  const metric = await app.ctx.metrics.registry.getSingleMetric('robot_auth_http_request_duration_seconds')?.get();
  const counts: Record<string, number> = {};
  for (const v of metric?.values ?? []) {
    if ((v as { metricName?: string }).metricName?.endsWith('_count')) counts[`${v.labels.group} ${v.labels.status}`] = v.value;
  }
  return counts;
}

/** Every counter of the app's registry, and every histogram's count, by name and labels (gauges and timings left out). */
export async function counterValues(app: TestApp): Promise<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const metric of await app.ctx.metrics.registry.getMetricsAsJSON()) {
    const type = String(metric.type);
    if (type !== 'counter' && type !== 'histogram') continue;
    for (const v of metric.values) {
      const name = (v as { metricName?: string }).metricName ?? metric.name;
      if (type === 'histogram' && !name.endsWith('_count')) continue;
      values[`${name}${JSON.stringify(v.labels)}`] = v.value;
    }
  }
  return values;
}

const deltaOf = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).filter(([k, v]) => v !== (before[k] ?? 0)).map(([k, v]) => [k, v - (before[k] ?? 0)]));

/**
 * Sends `shot` light then Express; returns both answers, whether the light path took it, and each
 * side's log lines and metric deltas (every line's level and message, the request line in full; every
 * counter, the request histogram's counts by group and status). A function gives each side its own request (single-use
 * credentials); `same` compares the two answers, normalised (the default: equal).
 */
export async function both(app: TestApp, lines: LogLine[], shot: Shot | ((light: boolean) => Shot | Promise<Shot>), same: (light: Answer, express: Answer) => void = (l, e) => expect(l).toEqual(e)) {
  const result = [];
  for (const enabled of [true, false]) {
    lightPathSwitch.enabled = enabled;
    const answeredBefore = lightPathSwitch.answered;
    const linesBefore = lines.length;
    const countsBefore = await requestCount(app);
    const countersBefore = await counterValues(app);
    const answer = await send(app.port, typeof shot === 'function' ? await shot(enabled) : shot);
    // The line and the metric are written when the response closes, just after the client has it.
    await new Promise((r) => setTimeout(r, 20));
    const counts = await requestCount(app);
    const delta = deltaOf(countsBefore, counts);
    const counters = deltaOf(countersBefore, await counterValues(app));
    const all = lines.slice(linesBefore);
    const logged = all.filter((l) => l.msg === 'request completed' || l.msg === 'request aborted');
    result.push({ answer, light: lightPathSwitch.answered > answeredBefore, delta, counters, logged, all: all.map((l) => `${l.level} ${l.msg}`) });
  }
  lightPathSwitch.enabled = true;
  const [light, express] = result as [(typeof result)[0], (typeof result)[0]];
  expect(express.light).toBe(false);
  same(normalised(light.answer), normalised(express.answer));
  expect(light.delta).toEqual(express.delta);
  expect(light.counters).toEqual(express.counters);
  expect(light.all).toEqual(express.all);
  const line = (l: LogLine) => ({ level: l.level, msg: l.msg, method: l.req.method, url: l.req.url, host: l.req.host, status: l.res.statusCode });
  expect(light.logged.map(line)).toEqual(express.logged.map(line));
  if (light.answer.headers['x-request-id'] !== undefined && light.logged.length === 1) expect(light.logged[0]!.req.id).toBe(light.answer.headers['x-request-id']);
  return { light: light.light, answer: light.answer, other: express.answer };
}
