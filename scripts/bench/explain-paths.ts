// Which SQL each bench case runs, and SQLite's plan for it on a seeded database (issue 11, "large
// database no figure > 1.2x worse"). Starts the real app (createContext + createApp, as the bench
// child does) on a COPY of the database, records every statement executed while one request of each
// case is answered, then prints `EXPLAIN QUERY PLAN` for each and flags full scans and temporary
// B-trees (the plans that grow with the table).
//
//   node scripts/bench/explain-paths.ts [--db=FILE] [--scale=large|small]
// Without --db, a small database is built; with it, FILE is copied to a temporary directory first.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type Database from 'better-sqlite3';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { listen } from './child-util.ts';
import { AS_METADATA_PATH, WHOAMI_CALL } from './cases.ts';
import { createPools } from './pools.ts';
import { APEX_HOST, buildDatabase, LARGE, SMALL } from './seed.ts';

const { values } = parseArgs({ options: { db: { type: 'string' }, scale: { type: 'string', default: 'large' } } });
const scale = values.scale === 'small' ? SMALL : LARGE;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'explain-paths-'));
const file = path.join(dir, 'app.sqlite');
if (values.db) fs.copyFileSync(values.db, file);
else buildDatabase(file, SMALL);

/** The case being answered; statements executed meanwhile are filed under it. */
let phase = 'start';
const seen = new Map<string, Map<string, unknown[]>>();
/** Files the statement under the current phase, with the arguments of its first execution (for the plan). */
function record(source: string, args: unknown[]): void {
  let statements = seen.get(phase);
  if (!statements) seen.set(phase, (statements = new Map()));
  const sql = source.replace(/\s+/g, ' ').trim();
  if (!statements.has(sql)) statements.set(sql, args);
}

const db: Db = openDatabase(file);
const prepare = db.prepare.bind(db);
db.prepare = ((source: string) => {
  const st = prepare(source) as Database.Statement<unknown[]>;
  for (const m of ['run', 'get', 'all', 'iterate'] as const) {
    const original = st[m] as (...a: unknown[]) => unknown;
    (st as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
      record(source, args);
      return original.apply(st, args);
    };
  }
  return st;
}) as Db['prepare'];

const config = parseConfig({ ...process.env, DATA_DIR: dir, DATABASE_FILE: file, LOG_LEVEL: 'silent' });
const ctx = await createContext(config, { db });
const pools = createPools(ctx, scale);
const server = http.createServer(createApp(ctx));
const port = await listen(server);

function send(method: string, p: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded', host: APEX_HOST };
const MCP = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25' };
const refreshBodies = pools.refreshPool(2);
const codeBodies = pools.codePool(2);
const [token] = await pools.accessTokens(1);
if (!token) throw new Error('no access token');
/** Single-use values: a fresh one for each request. */
const next = (pool: string[]): string => {
  const v = pool.shift();
  if (v === undefined) throw new Error('pool is empty');
  return v;
};

const cases: [string, () => Promise<number>][] = [
  ['refresh', () => send('POST', '/auth/oauth/token', FORM, next(refreshBodies))],
  ['authcode', () => send('POST', '/auth/oauth/token', FORM, next(codeBodies))],
  ['verify', () => send('GET', '/auth/verify', { host: token.host, 'x-forwarded-host': token.host, authorization: `Bearer ${token.token}` })],
  ['whoami', () => send('POST', '/mcp', { ...MCP, host: token.host, authorization: `Bearer ${token.token}` }, WHOAMI_CALL)],
  ['as-metadata', () => send('GET', AS_METADATA_PATH, { host: APEX_HOST })],
  ['prm', () => send('GET', '/.well-known/oauth-protected-resource/mcp', { host: token.host })],
];
// Twice each: the first request of a kind may prepare lazily; the second is the steady state.
for (const [id, run] of cases) {
  phase = `${id} (warm-up)`;
  await run();
  phase = id;
  const status = await run();
  console.log(`\n## ${id}: HTTP ${status}`);
  for (const [sql, args] of seen.get(id) ?? []) {
    const plan = (prepare(`EXPLAIN QUERY PLAN ${sql}`) as Database.Statement<unknown[]>).all(...args) as { detail: string }[];
    const details = plan.map((r) => r.detail);
    const bad = details.some((d) => /^SCAN (?!CONSTANT)|TEMP B-TREE/.test(d));
    console.log(`${bad ? 'CHECK' : 'ok   '} ${sql}`);
    for (const d of details) console.log(`        ${d}`);
  }
}

server.close();
ctx.close();
fs.rmSync(dir, { recursive: true, force: true });
