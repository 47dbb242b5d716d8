// Entry point: config → context → app → listen; SIGTERM/SIGINT → graceful close.
import http from 'node:http';
import { ConfigError, loadDotEnv, parseConfig } from './config/env.ts';
import { createContext } from './context.ts';
import { createApp } from './app.ts';
import { purgeExpired } from './db/purge.ts';

async function main(): Promise<void> {
  loadDotEnv();
  const config = parseConfig(process.env);
  const ctx = await createContext(config);
  const app = createApp(ctx);
  const server = http.createServer(app);
  // Keep-alive longer than a proxy's idle timeout avoids races on reused connections.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  ctx.log.info({ url: config.publicUrl, port: config.port, production: config.production }, 'listening');
  console.log(`robot-auth is listening on ${config.publicUrl}`);

  // Bounded growth: expired codes, states, sessions, tokens and idle registrations go away.
  const purge = () => {
    try {
      const purged = purgeExpired(ctx.db, { clientIdleSeconds: config.clientIdlePurgeSeconds });
      ctx.log.info({ purged }, 'purged expired rows');
    } catch (err) {
      ctx.log.error({ err }, 'purge failed');
    }
  };
  const purgeTimer = setInterval(purge, 10 * 60 * 1000);
  purgeTimer.unref();
  purge();

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    clearInterval(purgeTimer);
    ctx.log.info({ signal }, 'shutting down');
    // Stop accepting, let in-flight requests finish, then close the database.
    server.close(() => {
      ctx.close();
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      ctx.log.warn('in-flight requests did not finish in 10 s; exiting');
      server.closeAllConnections();
      ctx.close();
      process.exit(1);
    }, 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error(err);
  }
  process.exit(1);
});
