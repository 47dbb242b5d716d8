// A tiny Express app with the given routes and the shared error handler, as app.ts mounts them, for
// the client tests; their context comes from startTestApp(env, { listen: false }) (support/app.ts).
import express, { type Router } from 'express';
import type { AppContext } from '../../../src/context.ts';
import { errorHandler } from '../../../src/web/error-handler.ts';

export function appWith(ctx: AppContext, ...routers: Router[]): express.Express {
  const app = express();
  app.set('trust proxy', ctx.config.trustProxy);
  for (const router of routers) app.use(router);
  app.use(errorHandler(ctx.log));
  return app;
}
