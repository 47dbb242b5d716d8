// The test PostgreSQL server (test/support/postgres.ts) is a real server: it answers a query,
// gives each test its own empty database, and its data directory is gone after stop().
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostgres, type TestPostgres } from '../support/postgres.ts'

describe('test PostgreSQL server', () => {
  let server: TestPostgres
  beforeAll(async () => {
    server = await startPostgres()
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('answers queries and creates separate databases', async () => {
    const a = await server.createDatabase()
    const b = await server.createDatabase()
    expect(a).not.toBe(b)
    const client = new pg.Client({ connectionString: a })
    await client.connect()
    try {
      const { rows } = await client.query<{ v: string; db: string }>('SELECT current_setting($1) AS v, current_database() AS db', ['server_version_num'])
      expect(Number(rows[0]!.v)).toBeGreaterThanOrEqual(150000)
      expect(a.endsWith(`/${rows[0]!.db}`)).toBe(true)
      await client.query('CREATE TABLE t (id integer primary key)')
    } finally {
      await client.end()
    }
    const other = new pg.Client({ connectionString: b })
    await other.connect()
    try {
      const { rows } = await other.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 't'")
      expect(rows[0].n).toBe(0)
    } finally {
      await other.end()
    }
  })
})
