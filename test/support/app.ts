// The one way a test starts the app: a real context (createContext) on its own temporary data
// directory (or one the test gives), pointed at the local PDS and PLC, served by createApp.
//  - listen 'own-port' (the default): the port is chosen first and PORT/PUBLIC_URL name it
//    (http://localhost:PORT), because the ATProto loopback client's redirect URI
//    (http://127.0.0.1:PORT/auth/callback) must name it.
//  - listen 'any-port': PUBLIC_URL stays as env says (default http://localhost:3000, wiki hosts
//    `{slug}.localhost:3000`) and the server listens on any free 127.0.0.1 port; requests reach it
//    through app.http() (supertest) or the helpers of oauth-flow.ts, which send the PUBLIC_URL Host.
//  - listen false: no server; the context only, for in-process tests that mount their own routers
//    or call domain code (app.http() then serves createApp(ctx) in-process).
// The store: SQLite in the data directory, or, in the `postgres` vitest project (TEST_STORE=postgres,
// ./test-database.ts), a fresh database on the run's PostgreSQL server named by DATABASE_URL (keys
// still come from the data directory's files unless env sets PLATFORM_KEYS_KEK). reopen() reconnects
// to the same database; close() drops it (a given `dataDir` keeps its database, as it keeps the directory).
// Seed rows with ./seed.ts and drive OAuth with ./oauth-flow.ts.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { inject } from 'vitest';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { createApp } from '../../src/app.ts';
import { createLogger, type Logger } from '../../src/web/log.ts';
import { HTTP_SERVER_OPTIONS } from '../../src/web/header-limits.ts';
import { openTestSql, type TestSql } from './sql.ts';
import { createTestDatabase, onPostgres, type TestDatabase } from './test-database.ts';

export interface TestApp {
  /** PUBLIC_URL, the issuer: http://localhost:PORT unless env or `listen` say otherwise. */
  url: string;
  /** The port the server listens on (0 when not listening). */
  port: number;
  config: Config;
  /** The live context; replaced by reopen(). */
  ctx: AppContext;
  dataDir: string;
  /** The listening server, when there is one. */
  server: http.Server | undefined;
  /** A supertest client: bound to the listening server, or to createApp(ctx) in-process. */
  http(): ReturnType<typeof request>;
  /** Raw SQL on the app's database, either store (./sql.ts): for what no Store method does. Opened on first use, closed with the app. */
  sql(): TestSql;
  /** Closes the context and opens a new one on the same data directory (a restart; the server keeps serving the new one). */
  reopen(): Promise<AppContext>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Where the app logs (tests that assert on the operator's log lines pass their own). */
  log?: Logger;
  /** How it is served: see the file comment. Default 'own-port'. */
  listen?: 'own-port' | 'any-port' | false;
  /** Use this data directory, and leave it in place on close, instead of a fresh temporary one (on PostgreSQL: and its database). */
  dataDir?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The configuration startTestApp uses: the local PDS and PLC, quiet logs, no daily cap on new wikis; `env` wins. */
export function testConfig(dataDir: string, env: Record<string, string> = {}): Config {
  return parseConfig({
    DATA_DIR: dataDir,
    ATPROTO_PLC_URL: inject('plcUrl'),
    ATPROTO_HANDLE_RESOLVER: inject('pdsUrl'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Suites sign many people up; the daily cap on new wikis has its own test (test/security/wiki-cap.test.ts).
    NEW_WIKIS_PER_DAY: '1000000',
    ...env,
  });
}

export async function startTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const listen = options.listen ?? 'own-port';
  const port = listen === 'own-port' ? await freePort() : 0;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-test-'));
  // A test that names its own DATABASE_URL keeps it.
  const database: TestDatabase | undefined = onPostgres() && env.DATABASE_URL === undefined ? await createTestDatabase(options.dataDir) : undefined;
  const storeEnv: Record<string, string> = database ? { DATABASE_URL: database.url } : {};
  const config = testConfig(dataDir, listen === 'own-port' ? { PORT: String(port), ...storeEnv, ...env } : { ...storeEnv, ...env });
  const open = () => createContext(config, { log: options.log ?? createLogger(config.logLevel) });
  let ctx = await open();
  // Built on first use: an in-process test that never calls http() gets no app.
  let handler: ReturnType<typeof createApp> | undefined;
  const appHandler = () => (handler ??= createApp(ctx));
  let server: http.Server | undefined;
  let boundPort = port;
  let sql: TestSql | undefined;
  if (listen) {
    // Indirect, so that reopen() swaps the app under the same server.
    server = http.createServer(HTTP_SERVER_OPTIONS, (req, res) => appHandler()(req, res));
    await new Promise<void>((resolve) => (listen === 'own-port' ? server!.listen(port, resolve) : server!.listen(0, '127.0.0.1', resolve)));
    boundPort = (server.address() as net.AddressInfo).port;
  }
  const app: TestApp = {
    url: config.publicUrl,
    port: boundPort,
    config,
    ctx,
    dataDir,
    server,
    http: () => request(server ?? appHandler()),
    sql: () => (sql ??= openTestSql(config)),
    async reopen() {
      await ctx.close();
      ctx = await open();
      handler = undefined;
      app.ctx = ctx;
      return ctx;
    },
    async close() {
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await ctx.close();
      await sql?.close();
      if (!options.dataDir) {
        await database?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  return app;
}
