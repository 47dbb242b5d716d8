// Vitest globalSetup of the `postgres` project (vitest.config.ts): ONE PostgreSQL server for the
// whole run, next to the PDS of ./global-setup.ts (Debian's PostgreSQL, started as the `postgres`
// user when we are root: test/support/postgres.ts). Tests read its URL with `inject('postgresUrl')`
// through test/support/test-database.ts; each app gets its own database on it (about 0.1 s to
// create and 0.2 s to migrate), never its own server (about 1.3 s to start).
// Only the `postgres` project lists this file, so a run that selects only SQLite tests starts no server.
import type { TestProject } from 'vitest/node'
import { startPostgres } from '../support/postgres.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared server's `postgres` database (postgres://postgres@127.0.0.1:PORT/postgres); absent in the sqlite project. */
    postgresUrl: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres()
  project.provide('postgresUrl', server.url)
  return () => server.stop()
}
