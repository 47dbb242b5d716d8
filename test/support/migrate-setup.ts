// The set-up of the migration tests (admin migrate-to-postgres, its late-writes attack, the
// PostgreSQL migration runner): one PostgreSQL server for the test file (./postgres.ts), and per
// test a fresh directory (with `sqlite`, a data directory holding a migrated SQLite file to seed,
// ./seed.ts tempData) and pools on the server's databases, all ended or removed after the test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { createPool } from '../../src/db/postgres/pool.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';
import { tempData, type TempData } from './seed.ts';

export interface MigrateSetup {
  /** The file's server: started before its first test, stopped after its last. */
  readonly server: TestPostgres;
  /** This test's directory: the data directory with `sqlite`, else an empty one. */
  readonly dir: string;
  /** This test's data directory and migrated SQLite file (only with `sqlite`). */
  readonly t: TempData;
  /** A pool (2 connections) on `url`, ended after the test. */
  pool(url: string): pg.Pool;
  /** A pool on a fresh, empty database of the server, ended after the test. */
  emptyDatabase(): Promise<pg.Pool>;
}

/** Registers the file's beforeAll/afterAll and each test's beforeEach/afterEach; the fields are set once they ran. */
export function onMigrateSetup(options: { sqlite: boolean }): MigrateSetup {
  let server: TestPostgres | undefined;
  let data: TempData | undefined;
  let dir: string | undefined;
  const pools: pg.Pool[] = [];
  const pool = (url: string) => {
    const p = createPool({ url, poolSize: 2 });
    pools.push(p);
    return p;
  };
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    if (options.sqlite) dir = (data = tempData()).dir;
    else dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-migrate-'));
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
    if (data) data.cleanup();
    else if (dir) fs.rmSync(dir, { recursive: true, force: true });
    data = dir = undefined;
  });
  const set = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`onMigrateSetup: ${what} is set in the hooks (and t only with { sqlite: true })`);
    return value;
  };
  return {
    get server() {
      return set(server, 'server');
    },
    get dir() {
      return set(dir, 'dir');
    },
    get t() {
      return set(data, 't');
    },
    pool,
    emptyDatabase: async () => pool(await set(server, 'server').createDatabase()),
  };
}
