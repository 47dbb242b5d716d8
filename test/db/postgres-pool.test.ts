// DATABASE_URL / DATABASE_POOL_SIZE (src/config/env.ts) and the pool (src/db/postgres/pool.ts):
// only PostgreSQL URLs are accepted, with a message that never repeats a password; the pool sets
// its size, statement timeout and application_name, returns bigint as numbers, and an unreachable
// server stops start-up with a clear error and one structured log line saying what to check.
// (The service started with DATABASE_URL: test/ops/postgres-serve.test.ts.)
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/env.ts';
import { createPool, openPostgres, PostgresUnavailableError } from '../../src/db/postgres/pool.ts';
import { captureLog } from '../support/log-lines.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const base = { PUBLIC_URL: 'http://localhost:3000' };

describe('DATABASE_URL', () => {
  it('is optional: unset means SQLite at DATABASE_FILE, as before', () => {
    const config = parseConfig(base);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.databasePoolSize).toBe(10);
    expect(config.databaseFile).toMatch(/robot-auth\.sqlite$/);
  });

  it('accepts postgres:// and postgresql:// URLs and a pool size', () => {
    expect(parseConfig({ ...base, DATABASE_URL: 'postgres://u:p@db.internal:5432/ra' }).databaseUrl).toBe('postgres://u:p@db.internal:5432/ra');
    const config = parseConfig({ ...base, DATABASE_URL: 'postgresql://db.internal/ra', DATABASE_POOL_SIZE: '25' });
    expect(config.databaseUrl).toBe('postgresql://db.internal/ra');
    expect(config.databasePoolSize).toBe(25);
  });

  it.each(['mysql://u:secret@db/ra', 'sqlite:///var/lib/ra.sqlite', '/var/lib/ra.sqlite', 'http://u:secret@db/ra', 'postgres://'])(
    'refuses %s with a message that names the accepted forms and never the value',
    (value) => {
      let error: unknown;
      try {
        parseConfig({ ...base, DATABASE_URL: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/);
      expect(message).not.toContain('secret');
    },
  );

  it('refuses a pool size that is not a positive integer', () => {
    expect(() => parseConfig({ ...base, DATABASE_URL: 'postgres://db/ra', DATABASE_POOL_SIZE: '0' })).toThrow(/DATABASE_POOL_SIZE: must be a positive integer/);
  });
});


describe('the PostgreSQL pool', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('sets its size, the statement timeout and application_name, and returns bigint as numbers', async () => {
    const { log } = captureLog();
    const pool = await openPostgres({ url: await server.createDatabase(), poolSize: 3, statementTimeoutMs: 1500 }, log);
    try {
      expect(pool.options.max).toBe(3);
      const { rows } = await pool.query<{ t: string; app: string; n: unknown; big: unknown }>(
        "SELECT current_setting('statement_timeout') AS t, current_setting('application_name') AS app, count(*) AS n, 4102444800::bigint AS big FROM pg_class",
      );
      expect(rows[0]).toMatchObject({ t: '1500ms', app: 'robot-auth' });
      expect(typeof rows[0]!.n).toBe('number');
      expect(rows[0]!.big).toBe(4102444800);
      await expect(pool.query('SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
      await expect(pool.query('SELECT 9007199254740993::bigint AS x')).rejects.toThrow(/does not fit a JavaScript number/);
    } finally {
      await pool.end();
    }
  });

  it('stops with a clear error and a structured log line when the server is unreachable', async () => {
    // A port that refuses connections: bound, then closed.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { log, lines } = captureLog();
    const url = `postgres://robot:hunter2@127.0.0.1:${port}/ra`;
    const attempt = openPostgres({ url }, log);
    await expect(attempt).rejects.toBeInstanceOf(PostgresUnavailableError);
    await expect(attempt).rejects.toThrow(`Cannot connect to PostgreSQL at postgres://robot:***@127.0.0.1:${port}/ra`);
    const [line] = lines();
    expect(line).toMatchObject({ level: 50, code: 'ECONNREFUSED', database: `postgres://robot:***@127.0.0.1:${port}/ra` });
    expect(String(line!.msg)).toMatch(/PostgreSQL is unreachable: check that the server at DATABASE_URL is running/);
    expect(JSON.stringify(lines())).not.toContain('hunter2');
  });

  it('names a missing database the same way', async () => {
    const { log, lines } = captureLog();
    await expect(openPostgres({ url: `${server.url.replace(/\/postgres$/, '')}/no_such_db` }, log)).rejects.toThrow(/database "no_such_db" does not exist/);
    expect(lines()[0]).toMatchObject({ code: '3D000' });
  });

  it('lazily created pools connect on first query', async () => {
    const pool = createPool({ url: await server.createDatabase() });
    try {
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
