// The PostgreSQL connection pool (issue 12), used when DATABASE_URL is set (src/config/env.ts).
// One place for the connection rules:
//  - DATABASE_POOL_SIZE connections at most (default 10) per instance; PostgreSQL's max_connections
//    must cover every instance's pool plus the admin CLI.
//  - statement_timeout (default 10 s) so a stuck query fails the request instead of holding a
//    connection for ever; application_name `robot-auth` so the operator finds our sessions in
//    pg_stat_activity.
//  - bigint (int8) columns come back as JS numbers, like better-sqlite3's integers: the schema keeps
//    times as integer seconds (migrations/postgres/001-foundation.sql), far inside 2^53. A value
//    outside the safe range throws instead of silently losing precision.
//  - `inTransaction` is the one BEGIN … COMMIT on a pooled client: ROLLBACK when the callback
//    throws, and a client whose ROLLBACK failed too is destroyed instead of going back to the pool.
//  - `openPostgres` checks the server answers before the service goes on, and if it does not, logs
//    one structured line that says what to check.
import pg from 'pg';
import type { Logger } from 'pino';

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;
export const APPLICATION_NAME = 'robot-auth';
const CONNECT_TIMEOUT_MS = 5_000;

export type PgPool = pg.Pool;

export interface PostgresOptions {
  url: string;
  poolSize?: number;
  statementTimeoutMs?: number;
  applicationName?: string;
}

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint value ${value} does not fit a JavaScript number`);
  return n;
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A pool with the rules above; it connects lazily (see openPostgres for the start-up check). */
export function createPool(options: PostgresOptions): PgPool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    application_name: options.applicationName ?? APPLICATION_NAME,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types,
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener Node
  // would crash the process. The next query gets a fresh connection (or fails with its own error).
  pool.on('error', () => {});
  return pool;
}

/** `begin` … COMMIT on one client of `pool` around `fn`; ROLLBACK (and the error rethrown) when it throws. */
export async function inTransaction<T>(pool: Pick<PgPool, 'connect'>, fn: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.release(broken);
  }
}

export class PostgresUnavailableError extends Error {
  override name = 'PostgresUnavailableError';
}

/**
 * Query parameters whose value is a secret (or names one): libpq and `pg` read the password from
 * `?password=` as well as from the user part, and `sslpassword`/`sslkey`/`passfile` unlock or point
 * at key material. Matched without case, and any name containing one of these words counts too.
 */
const SECRET_PARAMETER_WORDS = ['password', 'passfile', 'sslpassword', 'sslkey', 'secret', 'token'];

/** The URL without its password (user part and secret query parameters), for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const name of [...new Set(u.searchParams.keys())]) {
      const lower = name.toLowerCase();
      if (SECRET_PARAMETER_WORDS.some((word) => lower.includes(word))) u.searchParams.set(name, '***');
    }
    return u.href;
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

/**
 * Creates the pool and checks that the server answers; if it does not, closes the pool and throws
 * PostgresUnavailableError (its message names the server, password redacted), without logging:
 * the service's start-up (src/server.ts, src/db/unavailable-at-start.ts) retries and logs once a minute.
 */
export async function connectPostgres(options: PostgresOptions): Promise<PgPool> {
  const pool = createPool(options);
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (err) {
    await pool.end().catch(() => {});
    const reason = err instanceof Error ? err.message : String(err);
    throw new PostgresUnavailableError(`Cannot connect to PostgreSQL at ${redactUrl(options.url)}: ${reason}`, { cause: err });
  }
}

/** What the operator should check when PostgreSQL does not answer (the log line says it). */
export const UNREACHABLE_ADVICE =
  'PostgreSQL is unreachable: check that the server at DATABASE_URL is running and reachable from this host, ' +
  'that the user, password and database name are right, and that pg_hba.conf allows this connection';

/**
 * Creates the pool and checks that the server answers. If it does not, logs what the operator
 * should check and throws PostgresUnavailableError (the pool is closed).
 */
export async function openPostgres(options: PostgresOptions, log: Pick<Logger, 'error'>): Promise<PgPool> {
  try {
    return await connectPostgres(options);
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause ?? err;
    const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : undefined;
    log.error({ err: cause, code, database: redactUrl(options.url) }, UNREACHABLE_ADVICE);
    throw err;
  }
}
