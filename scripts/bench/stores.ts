// The store dimension of `npm run bench` (issue 12 item 7): the same cases on SQLite and on
// PostgreSQL, in the same run, and per case and concurrency the ratio postgres ÷ sqlite and the
// writes per second of each store. Issue 11's targets are computed on the SQLite runs only, as before.
//
// Writes per second, counted by each store, not inferred:
//  - SQLite: the app's own count of outermost write transactions (src/db/instrument.ts, the
//    robot_auth_db_write_duration_seconds histogram), read from the app child before and after a run;
//  - PostgreSQL: transaction ids assigned during the run (every transaction that wrote gets one,
//    at once; pg_snapshot_xmax of the current snapshot), beside pg_stat_database.xact_commit
//    (every commit, read-only ones included: a bearer check's SELECT is one) and the WAL bytes.
// A refresh or a code exchange commits one write transaction, so on the token cases writes/s is
// about req/s on both; the bearer cases write only when a grant's last_used_at is a minute old.
// writes/s may exceed req/s by up to connections ÷ seconds: requests in flight when the load
// generator stops are not counted as answers, but the app still commits them. With the SQLite
// store's group commit, concurrent token requests share one transaction: SQLite's writes/s then
// counts those shared commits and is below req/s at higher concurrency.
import type { BenchChild } from './child.ts';
import type { LoadCase } from './cases.ts';
import type { RunResult } from './load.ts';
import { pgWrites, type BenchPostgres, type PgStatement } from './postgres.ts';
import { median } from './compare.ts';
import { fmtMs, fmtRate, maxOf, runsByConnections, table, type SizeResult } from './report.ts';

export const STORES = ['sqlite', 'postgres'] as const;
export type StoreName = (typeof STORES)[number];

/** Counted around one measured run. */
export interface RunWrites {
  /** Write transactions committed during the run. */
  transactions: number;
  perSecond: number;
  /** PostgreSQL: WAL bytes written during the run. */
  walBytes?: number;
  /** PostgreSQL: statements (round trips) the database ran during the run. */
  statements?: number;
}

export interface WriteMeter {
  /** Reads the counters before a run and returns the function that reads them after it. */
  begin(): Promise<(seconds: number) => Promise<RunWrites>>;
}

export function sqliteWriteMeter(child: BenchChild): WriteMeter {
  return {
    async begin() {
      const before = await child.request<number>({ type: 'sqlite-writes' });
      return async (seconds) => {
        const transactions = (await child.request<number>({ type: 'sqlite-writes' })) - before;
        return { transactions, perSecond: transactions / seconds };
      };
    },
  };
}

/**
 * Transaction ids and the WAL position move at once, so they are read straight before and after a
 * run. pg_stat_database.xact_commit is not per run: backends publish it at most once a second and
 * up to 10 s late, so it is read once for a whole size, after the app child closed its connections
 * (a backend publishes its counts when it exits): PgSizeTotals.
 */
export function postgresWriteMeter(server: BenchPostgres, url: string): WriteMeter {
  return {
    async begin() {
      const before = await server.counters(url);
      return async (seconds) => {
        const d = pgWrites(before, await server.counters(url));
        return { transactions: d.writeTransactions, perSecond: d.writeTransactions / seconds, walBytes: d.walBytes, statements: d.statements };
      };
    },
  };
}

/** A whole size on PostgreSQL, from the app child's start to its exit. */
export interface PgSizeTotals {
  /** pg_stat_database.xact_commit delta: every commit, read-only ones included (the app's, the pools', the meter's own readings). */
  commits: number;
  /** Transactions that wrote (transaction ids assigned). */
  writeTransactions: number;
  walBytes: number;
  /** 2xx answers of the app's cases (warm-ups and probes not counted). */
  answered: number;
  /** The most called statements over the size (pools and baselines included): what the round trips are. */
  statements: PgStatement[];
  /**
   * Another size's PostgreSQL child was alive at the same time (--pg-sizes with both sizes: run.ts
   * starts every size's children first): writeTransactions and walBytes are the server's, both
   * databases together (commits and statements stay this database's).
   */
  serverWide?: boolean;
}

export interface StoreRow {
  size: string;
  caseId: string;
  label: string;
  connections: number;
  /** Undefined when SQLite did not run this case (--stores=postgres). */
  sqlite?: StoreFigures;
  postgres: StoreFigures;
  /** postgres req/s ÷ sqlite req/s (< 1: PostgreSQL is slower). */
  rpsRatio?: number;
  /** postgres p99 ÷ sqlite p99. */
  p99Ratio?: number;
}

interface StoreFigures {
  rps: number;
  p99: number;
  /** App process CPU per request, µs. */
  cpuUs?: number;
  /** PostgreSQL's processes' CPU per request, µs. */
  databaseCpuUs?: number;
  writesPerSecond?: number;
  walBytesPerRequest?: number;
  statementsPerRequest?: number;
  failures: number;
  foreignCores?: number;
}

function figures(run: RunResult): StoreFigures {
  return {
    rps: run.rps,
    p99: run.p99,
    cpuUs: run.cpuUsPerRequest,
    databaseCpuUs: run.databaseCpuUsPerRequest,
    writesPerSecond: run.writes?.perSecond,
    walBytesPerRequest: run.writes?.walBytes === undefined || run.ok === 0 ? undefined : run.writes.walBytes / run.ok,
    statementsPerRequest: run.writes?.statements === undefined || run.ok === 0 ? undefined : run.writes.statements / run.ok,
    failures: run.non2xx + run.errors,
    foreignCores: run.foreignCores,
  };
}

/** A case's figures at one concurrency: the run's, or the median of its rounds' (failures summed, noise the worst). */
function roundFigures(runs: RunResult[]): StoreFigures {
  const each = runs.map(figures);
  const mid = (pick: (f: StoreFigures) => number | undefined) => median(each.map(pick).filter((v): v is number => v !== undefined));
  return {
    rps: mid((f) => f.rps) ?? 0,
    p99: mid((f) => f.p99) ?? 0,
    cpuUs: mid((f) => f.cpuUs),
    databaseCpuUs: mid((f) => f.databaseCpuUs),
    writesPerSecond: mid((f) => f.writesPerSecond),
    walBytesPerRequest: mid((f) => f.walBytesPerRequest),
    statementsPerRequest: mid((f) => f.statementsPerRequest),
    failures: each.reduce((sum, f) => sum + f.failures, 0),
    foreignCores: maxOf(each.map((f) => f.foreignCores)),
  };
}

/** Each PostgreSQL case and concurrency, beside the SQLite figures of the same size, case and concurrency when there are some. */
export function buildStoreRows(sqlite: SizeResult[], postgres: SizeResult[], cases: LoadCase[]): StoreRow[] {
  const rows: StoreRow[] = [];
  for (const pgSize of postgres) {
    const liteSize = sqlite.find((s) => s.name === pgSize.name);
    for (const def of cases) {
      if (def.app !== 'app') continue;
      const pgCase = pgSize.cases.find((c) => c.id === def.id);
      if (!pgCase) continue;
      for (const [connections, pgRuns] of runsByConnections(pgCase.runs)) {
        // The SQLite runs that ran beside these: a token case runs once on PostgreSQL, in the first of
        // SQLite's rounds when both sizes run (run.ts runSizes); a read case in every round.
        const liteRuns = (liteSize?.cases.find((c) => c.id === def.id)?.runs.filter((r) => r.connections === connections) ?? []).slice(0, pgRuns.length);
        const pg = roundFigures(pgRuns);
        const lite = liteRuns.length > 0 ? roundFigures(liteRuns) : undefined;
        rows.push({
          size: pgSize.name,
          caseId: def.id,
          label: def.label,
          connections,
          ...(lite ? { sqlite: lite, rpsRatio: pg.rps / lite.rps, p99Ratio: pg.p99 / lite.p99 } : {}),
          postgres: pg,
        });
      }
    }
  }
  return rows;
}

const n = (x: number | undefined, f: (v: number) => string = (v) => String(Math.round(v))): string => (x === undefined ? '' : f(x));

export function renderStoreTable(rows: StoreRow[], header: string[]): string {
  const out = [...header];
  out.push(
    table(
      [
        'size', 'case', 'conc',
        'sqlite req/s', 'pg req/s', 'pg/sqlite',
        'sqlite p99', 'pg p99',
        'sqlite writes/s', 'pg writes/s', 'pg stmts/req', 'pg WAL B/req',
        'sqlite cpu µs', 'pg app cpu µs', 'pg server cpu µs',
        'noise', 'failed',
      ],
      rows.map((r) => [
        r.size,
        r.caseId,
        String(r.connections),
        n(r.sqlite?.rps, fmtRate),
        fmtRate(r.postgres.rps),
        n(r.rpsRatio, (v) => `${v.toFixed(2)}×`),
        n(r.sqlite?.p99, fmtMs),
        fmtMs(r.postgres.p99),
        n(r.sqlite?.writesPerSecond, fmtRate),
        n(r.postgres.writesPerSecond, fmtRate),
        n(r.postgres.statementsPerRequest, (v) => v.toFixed(1)),
        n(r.postgres.walBytesPerRequest),
        n(r.sqlite?.cpuUs),
        n(r.postgres.cpuUs),
        n(r.postgres.databaseCpuUs),
        `${r.sqlite ? (r.sqlite.foreignCores ?? 0).toFixed(2) : '-'}/${(r.postgres.foreignCores ?? 0).toFixed(2)}`,
        String((r.sqlite?.failures ?? 0) + r.postgres.failures),
      ]),
    ),
  );
  return out.join('\n');
}
