// The bench's PostgreSQL server (issue 12 item 7): one throw-away server per `npm run bench` run,
// started by test/support/postgres.ts (Debian's postgresql, temp directory, loopback port), but
//  - with PostgreSQL's own durability defaults (fsync, synchronous_commit and full_page_writes on;
//    the test server turns them off), given on its command line: every commit of a token request
//    waits for its WAL flush, as on an operator's server. `--pg-commit=async` sets
//    synchronous_commit=off instead: a crash of the app loses nothing, a crash of PostgreSQL or of
//    the OS can lose the last ~0.6 s of commits; the nearest thing to SQLite's WAL +
//    synchronous=NORMAL, which the app runs with (no fsync per commit; an OS crash can lose the last
//    commits, an app crash none);
//  - pinned, with all its processes (backends fork from the postmaster and inherit it), to the load
//    generator's CPU: the app child keeps a core of its own, as on the SQLite runs, and the database
//    server takes its CPU from the side that is not being measured (it would be another machine in
//    a deployment);
//  - asked for its counters around each measured run: write transactions (transaction ids
//    assigned, exact), statements (pg_stat_statements, loaded for this: each statement is one round
//    trip from the app) and WAL bytes; commits (pg_stat_database.xact_commit) over a whole size
//    (stores.ts says why); and its processes' CPU time (cpu-noise.ts), so a run reports the
//    database's CPU per request beside the app's.
// Seeding: the small or large SQLite database of seed.ts is copied in by the shipped
// `admin migrate-to-postgres` code (src/admin/migrate-to-postgres.ts: one transaction, row counts
// and checksums verified), then VACUUM ANALYZE, so both stores serve the same rows.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migrateToPostgres } from '../../src/admin/migrate-to-postgres.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { postgresBinDir, startPostgres, type TestPostgres } from '../../test/support/postgres.ts';

export type PgCommit = 'sync' | 'async';

export interface PgCounters {
  /** Transaction ids assigned so far: one per transaction that wrote (exact, immediate). */
  nextXid: number;
  /** Statements the database has run (pg_stat_statements calls, BEGIN and COMMIT included): each one a round trip. */
  statements: number;
  /** pg_stat_database.xact_commit: every committed transaction, read-only ones included (flushed by backends about once a second). */
  xactCommit: number;
  walBytes: number;
}

export interface PgWrites {
  /** Write transactions (transaction ids assigned) during the run. */
  writeTransactions: number;
  /** Statements run during the run, the reading's own left out. */
  statements: number;
  commits: number;
  walBytes: number;
}

export interface PgStatement {
  calls: number;
  /** Mean execution time in the server, ms (planning not included: pg_stat_statements.track_planning is off). */
  meanMs: number;
  query: string;
}

export interface BenchPostgres {
  version: string;
  commit: PgCommit;
  /** The CPUs its processes are pinned to (taskset list), or undefined. */
  cpus: string | undefined;
  /** A new empty database; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Copies the seeded SQLite file into `url` (empty) and analyzes it. Seconds taken. */
  seedFrom(sqliteFile: string, url: string): Promise<number>;
  counters(url: string): Promise<PgCounters>;
  /** The statements run in `url`'s database so far, most called first (pg_stat_statements). */
  statements(url: string, limit: number): Promise<PgStatement[]>;
  /** The postmaster and its children (backends, WAL writer, checkpointer...), for CPU accounting. */
  pids(): number[];
  stop(): Promise<void>;
}

/** Whether a PostgreSQL server binary is installed (Debian's /usr/lib/postgresql/N/bin). */
export function postgresAvailable(): boolean {
  return postgresBinDir() !== undefined;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

export async function startBenchPostgres(options: { commit: PgCommit; cpus: string | undefined }): Promise<BenchPostgres> {
  // PostgreSQL's defaults for durability (the test server turns them off), given on the command
  // line, which outranks postgresql.conf and ALTER SYSTEM.
  const server: TestPostgres = await startPostgres({
    settings: {
      fsync: 'on',
      full_page_writes: 'on',
      synchronous_commit: options.commit === 'sync' ? 'on' : 'off',
      // Statements per request (round trips): counted in shared memory at each statement's end.
      shared_preload_libraries: 'pg_stat_statements',
    },
  });
  const admin = new pg.Client({ connectionString: server.url });
  try {
    await admin.connect();
    const settings = (await admin.query<{ fsync: string; synchronous_commit: string }>("SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit")).rows[0];
    if (settings?.fsync !== 'on' || settings.synchronous_commit !== (options.commit === 'sync' ? 'on' : 'off')) {
      throw new Error(`PostgreSQL runs with fsync=${settings?.fsync}, synchronous_commit=${settings?.synchronous_commit}: not what the bench asked for`);
    }
    const dataDir = String((await admin.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory);
    const version = String((await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version);
    const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    await admin.end();
    const pids = () => [postmaster, ...childrenOf(postmaster)];
    const meters = new Map<string, pg.Client>();
    let cpus = options.cpus;
    if (cpus !== undefined) {
      try {
        execFileSync('taskset', ['-cp', cpus, String(postmaster)], { stdio: 'ignore' });
      } catch {
        cpus = undefined;
      }
      // Its children so far (a short-lived one may be gone by now); backends forked later inherit the postmaster's.
      for (const pid of childrenOf(postmaster)) {
        try {
          if (cpus !== undefined) execFileSync('taskset', ['-cp', cpus, String(pid)], { stdio: 'ignore' });
        } catch {
          // exited
        }
      }
    }
    return {
      version,
      commit: options.commit,
      cpus,
      createDatabase: (name) => server.createDatabase(name),
      async seedFrom(sqliteFile, url) {
        const started = performance.now();
        const pool = createPool({ url, poolSize: 2, statementTimeoutMs: 0 });
        const db = new Database(sqliteFile, { fileMustExist: true });
        try {
          const result = await migrateToPostgres({ db, databaseFile: sqliteFile, pool }, { batchSize: 2000, snapshotDir: path.dirname(sqliteFile) });
          if (!result.ok) throw new Error(`the PostgreSQL copy of ${sqliteFile} differs: ${JSON.stringify(result.checks.filter((c) => !c.ok))}`);
          await pool.query('VACUUM ANALYZE');
          await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
        } finally {
          db.close();
          await pool.end();
        }
        return (performance.now() - started) / 1000;
      },
      async counters(url) {
        // One connection per database for the whole run: a connection per reading would fork a backend each time.
        let c = meters.get(url);
        if (!c) {
          c = new pg.Client({ connectionString: url, application_name: 'robot-auth-bench-meter' });
          await c.connect();
          meters.set(url, c);
        }
        const { rows } = await c.query<{ next_xid: string; xact_commit: string; wal_bytes: string; statements: string }>(
          `SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid,
                  (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::text AS xact_commit,
                  (pg_current_wal_lsn() - '0/0')::text AS wal_bytes,
                  (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
                    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()))::text AS statements`,
        );
        const r = rows[0];
        if (!r) throw new Error('no counters');
        return { nextXid: Number(r.next_xid), xactCommit: Number(r.xact_commit), walBytes: Number(r.wal_bytes), statements: Number(r.statements) };
      },
      async statements(url, limit) {
        const c = new pg.Client({ connectionString: url, application_name: 'robot-auth-bench-meter' });
        await c.connect();
        try {
          const { rows } = await c.query<{ calls: string; mean: number; query: string }>(
            `SELECT calls::text, mean_exec_time AS mean, query FROM pg_stat_statements
              WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
              ORDER BY pg_stat_statements.calls DESC LIMIT $1`,
            [limit],
          );
          return rows.map((r) => ({ calls: Number(r.calls), meanMs: r.mean, query: r.query.replace(/\s+/g, ' ') }));
        } finally {
          await c.end();
        }
      },
      pids,
      async stop() {
        for (const c of meters.values()) await c.end().catch(() => {});
        meters.clear();
        await server.stop();
      },
    };
  } catch (err) {
    await admin.end().catch(() => {});
    await server.stop();
    throw err;
  }
}

/** What happened between two readings (the readings' own queries assign no transaction id). */
export function pgWrites(before: PgCounters, after: PgCounters): PgWrites {
  return {
    writeTransactions: after.nextXid - before.nextXid,
    statements: Math.max(0, after.statements - before.statements - 1),
    commits: after.xactCommit - before.xactCommit,
    walBytes: after.walBytes - before.walBytes,
  };
}
