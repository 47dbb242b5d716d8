import { defineConfig } from 'vitest/config';

// Two projects (issue 12 item 6), one run (`npm test`):
//  - sqlite: every test file, on the default store (a SQLite file per app).
//  - postgres: the conformance, security, hardening and crash suites again, with TEST_STORE=postgres:
//    test/pds/postgres-setup.ts starts one PostgreSQL server for the run and every app gets its own
//    database on it (test/support/test-database.ts, test/support/app.ts).
// The root globalSetup (the local PDS and PLC) runs once and serves both projects.
// `npx vitest run --project sqlite` (or postgres) runs one of them.

/**
 * Security tests that are about SQLite by nature, run in the sqlite project only:
 *  - db-file-modes: the 0600 modes of the SQLite file, its -wal/-shm and its backups (a PostgreSQL
 *    server keeps its own files, under its own user);
 *  - migrate-to-postgres-late-writes: the write lock `admin migrate-to-postgres` holds on the SQLite
 *    file it copies from (the source is SQLite by definition; the test brings its own PostgreSQL).
 */
const SQLITE_ONLY = ['test/security/db-file-modes.test.ts', 'test/security/migrate-to-postgres-late-writes.test.ts'];

/**
 * Security tests that open no database of the app, so the store cannot change what they prove; run
 * once, in the sqlite project (about 50 s of a worker saved per run):
 *  - ssrf-safe-fetch, ssrf-config, reserved-names, access-token-alg, keys-files, mcp-abort-cancels:
 *    the outbound fetch, config parsing, JWS verification, key files, the MCP server, on their own;
 *  - edge-admin, edge-keepalive: the Caddyfile and Caddy against a plain Node server;
 *  - postgres-password-leak: redaction and the CLI's flags (it brings its own PostgreSQL server);
 *  - redos: a scan of the sources' regular expressions, and requests refused while their headers
 *    are parsed, before any storage.
 */
const STORE_INDEPENDENT = [
  'ssrf-safe-fetch',
  'ssrf-config',
  'reserved-names',
  'access-token-alg',
  'keys-files',
  'mcp-abort-cancels',
  'edge-admin',
  'edge-keepalive',
  'postgres-password-leak',
  'redos',
].map((name) => `test/security/${name}.test.ts`);

export default defineConfig({
  test: {
    globalSetup: ['test/pds/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // 2-core machines: a few workers (shared by both projects), each test file with its own app and database.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'sqlite', include: ['test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/conformance/**/*.test.ts', 'test/security/**/*.test.ts', 'test/hardening/**/*.test.ts', 'test/ops/crash.test.ts'],
          exclude: [...SQLITE_ONLY, ...STORE_INDEPENDENT],
          env: { TEST_STORE: 'postgres' },
          globalSetup: ['test/pds/postgres-setup.ts'],
        },
      },
    ],
  },
});
