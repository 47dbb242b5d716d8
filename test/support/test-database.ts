// Which store the tests of this vitest project run on (vitest.config.ts): the `sqlite` project
// leaves TEST_STORE unset and every app uses its SQLite file; the `postgres` project sets
// TEST_STORE=postgres, and every app gets a fresh database on the run's one PostgreSQL server
// (test/pds/postgres-setup.ts), through DATABASE_URL as an operator would configure it.
// startTestApp (./app.ts) uses this; so do the tests that start the real server process.
import crypto from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export type TestStoreKind = 'sqlite' | 'postgres';

export function testStoreKind(): TestStoreKind {
  return process.env.TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
}

export const onPostgres = (): boolean => testStoreKind() === 'postgres';

export interface TestDatabase {
  /** DATABASE_URL of the new database. */
  url: string;
  /** Drops it, closing whatever connections are left (DROP DATABASE … WITH (FORCE)). */
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = inject('postgresUrl');
  if (!url) throw new Error('TEST_STORE=postgres but no PostgreSQL server was provided: run the `postgres` vitest project (test/pds/postgres-setup.ts)');
  return url;
}

async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * An empty database on the shared server (the app's createContext migrates it). `key` names it
 * stably (e.g. a data directory two apps share), and then an existing one is reused.
 */
export async function createTestDatabase(key?: string): Promise<TestDatabase> {
  const suffix = key === undefined ? `${process.pid}_${crypto.randomBytes(6).toString('hex')}` : crypto.createHash('sha256').update(key).digest('hex').slice(0, 24);
  const name = `t_${suffix}`;
  try {
    await onServer(`CREATE DATABASE ${name}`);
  } catch (err) {
    // 42P04 duplicate_database: a keyed database another app of this test already created.
    if (key === undefined || (err as { code?: string }).code !== '42P04') throw err;
  }
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
