// A real context (temporary data dir, migrated database) for the client tests, and a tiny Express
// app with the given routes and the shared error handler, as app.ts mounts them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express, { type Router } from 'express';
import { parseConfig } from '../../../src/config/env.ts';
import { createContext, type AppContext } from '../../../src/context.ts';
import { errorHandler } from '../../../src/web/error-handler.ts';

export interface TestContext {
  ctx: AppContext;
  dataDir: string;
  /** Closes the database and opens a new context on the same data directory. */
  reopen(): Promise<AppContext>;
  close(): void;
}

export async function createTestContext(env: Record<string, string> = {}): Promise<TestContext> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-clients-'));
  const config = parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
  const state: TestContext = {
    ctx: await createContext(config),
    dataDir,
    async reopen() {
      state.ctx.close();
      state.ctx = await createContext(config);
      return state.ctx;
    },
    close() {
      state.ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return state;
}

export function appWith(ctx: AppContext, ...routers: Router[]): express.Express {
  const app = express();
  app.set('trust proxy', ctx.config.trustProxy);
  for (const router of routers) app.use(router);
  app.use(errorHandler(ctx.log));
  return app;
}
