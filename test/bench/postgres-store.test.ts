// `npm run bench -- --stores=postgres` (issue 12 item 7) measures the app on PostgreSQL, or its
// ratios compare SQLite with SQLite: the bench's PostgreSQL server runs with durable commits, the
// seeded rows arrive through migrate-to-postgres, the app child serves the token endpoint from that
// database (a refresh and a code exchange each commit one write transaction there), and the store
// table pairs each PostgreSQL run with the SQLite run of the same size, case and concurrency.
// No timing is asserted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { BenchChild } from '../../scripts/bench/child.ts';
import { CASES } from '../../scripts/bench/cases.ts';
import { accessTokenAlg } from '../../scripts/bench/compare.ts';
import { probe, type RunResult } from '../../scripts/bench/load.ts';
import { pgWrites, startBenchPostgres, type BenchPostgres } from '../../scripts/bench/postgres.ts';
import type { ReadyMessage } from '../../scripts/bench/protocol.ts';
import type { SizeResult } from '../../scripts/bench/report.ts';
import { APEX_HOST, buildDatabase, grantId, type Scale } from '../../scripts/bench/seed.ts';
import { buildStoreRows } from '../../scripts/bench/stores.ts';
import { sha256Hex } from '../../src/lib/secrets.ts';
import { refreshTokenHash } from '../../src/oauth/token/refresh-tokens.repo.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/bench/server.ts');
const SCALE: Scale = { users: 5, grants: 40, clients: 3 };
const FORM = { 'content-type': 'application/x-www-form-urlencoded', host: APEX_HOST };

describe('the bench on the PostgreSQL store', () => {
  let server: BenchPostgres;
  let child: BenchChild;
  let ready: ReadyMessage;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-bench-pg-'));
    server = await startBenchPostgres({ commit: 'sync', cpus: undefined });
    const dbFile = path.join(dir, 'app.sqlite');
    buildDatabase(dbFile, SCALE);
    url = await server.createDatabase(`bench_smoke_${process.pid}`);
    await server.seedFrom(dbFile, url);
    const unlimited = '1000000000';
    child = new BenchChild({
      script: SCRIPT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATA_DIR: dir,
        BENCH_DATABASE_FILE: dbFile,
        BENCH_SCALE: JSON.stringify(SCALE),
        BENCH_STORE: 'postgres',
        DATABASE_URL: url,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_TOKEN_PER_MINUTE: unlimited,
        RATE_LIMIT_CLIENT_PER_MINUTE: unlimited,
        RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: unlimited,
      },
    });
    ready = await child.waitFor<ReadyMessage>('ready', 60_000);
  }, 120_000);

  afterAll(async () => {
    await child?.stop();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function query(sql: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql, values)).rows.map((r: Record<string, unknown>) => ({ ...r, at: r.at === null ? null : Number(r.at) }));
    } finally {
      await c.end();
    }
  }

  it('runs PostgreSQL with its durable defaults, not the test server settings', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const { rows } = await c.query<{ fsync: string; sc: string; fpw: string }>(
        "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc, current_setting('full_page_writes') AS fpw",
      );
      expect(rows[0]).toEqual({ fsync: 'on', sc: 'on', fpw: 'on' });
      // The seeded rows arrived (migrate-to-postgres verified them row by row).
      const grants = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM oauth_grants');
      expect(grants.rows[0]?.n).toBe(SCALE.grants);
      expect((await c.query('SELECT 1 FROM oauth_grants WHERE id = $1', [grantId(7)])).rowCount).toBe(1);
    } finally {
      await c.end();
    }
  });

  it('serves refresh and code exchange from PostgreSQL: one write transaction each, counted by the server', async () => {
    expect(ready.store).toBe('postgres');
    for (const type of ['refresh-pool', 'code-pool'] as const) {
      const [body] = await child.request<string[]>({ type, count: 1 });
      if (!body) throw new Error('empty pool');
      const before = await server.counters(url);
      const answer = await probe(ready.appPort, { method: 'POST', path: '/auth/oauth/token', headers: FORM, body });
      const after = await server.counters(url);
      expect(answer.status, answer.body).toBe(200);
      expect(accessTokenAlg(answer.body)).toBeDefined();
      const d = pgWrites(before, after);
      expect(d.writeTransactions).toBe(1);
      expect(d.statements).toBeGreaterThanOrEqual(3); // BEGIN, at least one statement, COMMIT
      expect(d.walBytes).toBeGreaterThan(0);
      // The value the pool put into PostgreSQL is the one the app spent there.
      const params = new URLSearchParams(body);
      const spent =
        type === 'refresh-pool'
          ? await query('SELECT rotated_at AS at FROM refresh_tokens WHERE hash = $1', [refreshTokenHash(params.get('refresh_token') ?? '')])
          : await query('SELECT consumed_at AS at FROM authorization_codes WHERE hash = $1', [sha256Hex(params.get('code') ?? '')]);
      expect(spent[0]?.at).toEqual(expect.any(Number));
    }
  });

  it('pairs each PostgreSQL run with the SQLite run of the same size, case and concurrency', () => {
    const run = (connections: number, rps: number, p99: number): RunResult => ({
      connections, duration: 1, rps, p50: p99 / 2, p99, max: p99 * 2, mean: p99 / 2, ok: rps, non2xx: 0, errors: 0, timeouts: 0, statusCodes: {},
    });
    const size = (store: 'sqlite' | 'postgres', rps: number, name: 'small' | 'large' = 'small'): SizeResult => ({
      name,
      store,
      scale: SCALE,
      database: { file: '', cached: false, buildSeconds: 0, bytes: 0 },
      baselines: { sign: { ops: 1, seconds: 1, opsPerSecond: 1, meanMs: 1 }, signWrite: { ops: 1, seconds: 1, opsPerSecond: 1, meanMs: 1 } },
      cases: [{ id: 'refresh', label: 'refresh', runs: [run(1, rps, 10), run(16, rps * 2, 20)], exhausted: 0 }],
    });
    const rows = buildStoreRows([size('sqlite', 100)], [size('postgres', 50), size('postgres', 40, 'large')], CASES);
    expect(rows.map((r) => [r.size, r.caseId, r.connections, r.rpsRatio, r.sqlite?.rps])).toEqual([
      ['small', 'refresh', 1, 0.5, 100],
      ['small', 'refresh', 16, 0.5, 200],
      // A size SQLite did not run (--stores=postgres, or --pg-sizes beyond --sizes) has no ratio.
      ['large', 'refresh', 1, undefined, undefined],
      ['large', 'refresh', 16, undefined, undefined],
    ]);
  });
});
