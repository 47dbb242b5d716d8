// Starts the real app on a loopback port with its own temporary data directory, pointed at the
// local PDS. The port is chosen first because the ATProto loopback client's redirect URI
// (http://127.0.0.1:PORT/auth/callback) must name it.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { createApp } from '../../src/app.ts';
import { createLogger, type Logger } from '../../src/web/log.ts';
import { HTTP_SERVER_OPTIONS } from '../../src/web/header-limits.ts';

export interface TestApp {
  /** http://localhost:PORT (PUBLIC_URL, the issuer). */
  url: string;
  port: number;
  config: Config;
  ctx: AppContext;
  dataDir: string;
  close(): Promise<void>;
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

/** `log`: where the app logs (tests that assert on the operator's log lines pass their own). */
export async function startTestApp(env: Record<string, string> = {}, options: { log?: Logger } = {}): Promise<TestApp> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-test-'));
  const config = parseConfig({
    PORT: String(port),
    DATA_DIR: dataDir,
    ATPROTO_PLC_URL: inject('plcUrl'),
    ATPROTO_HANDLE_RESOLVER: inject('pdsUrl'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Suites sign many people up; the daily cap on new wikis has its own test (test/security/wiki-cap.test.ts).
    NEW_WIKIS_PER_DAY: '1000000',
    ...env,
  });
  const ctx = await createContext(config, { log: options.log ?? createLogger(config.logLevel) });
  const server = http.createServer(HTTP_SERVER_OPTIONS, createApp(ctx));
  await new Promise<void>((resolve) => server.listen(port, resolve));
  return {
    url: config.publicUrl,
    port,
    config,
    ctx,
    dataDir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
