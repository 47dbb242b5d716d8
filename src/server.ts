// Entry point: config → database (SQLite: backup + migrations; PostgreSQL at DATABASE_URL: migrations
// under an advisory lock) → context → app → listen.
// SIGTERM/SIGINT → graceful close: stop accepting, let in-flight requests finish, close the database.
// Platform keys: reloaded when they change (polled), or at once on SIGHUP (src/config/key-reload.ts).
import type { RequestListener, Server, ServerResponse } from 'node:http';
import { http } from './lib/node-http.ts';
import { ConfigError, loadDotEnv, parseConfig } from './config/env.ts';
import { createContext, type AppContext } from './context.ts';
import { createApp } from './app.ts';
import { migrateWithBackup } from './db/backup.ts';
import { startCheckpointer } from './db/checkpoints.ts';
import { openDatabase } from './db/open.ts';
import { redactUrl } from './db/postgres/pool.ts';
import { purgeNow, type MaintenanceDeps } from './maintenance.ts';
import { createLogger } from './web/log.ts';
import { startMetricsServer } from './metrics/metrics-server.ts';
import { openWhenStorageAllows } from './db/unavailable-at-start.ts';
import { applyServerTimeouts } from './web/server-timeouts.ts';
import { HTTP_SERVER_OPTIONS } from './web/header-limits.ts';

/** In-flight requests get this long to finish after SIGTERM (systemd's TimeoutStopSec is 20 s). */
const SHUTDOWN_DEADLINE_MS = 10_000;
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

async function main(): Promise<void> {
  loadDotEnv();
  const config = parseConfig(process.env);
  const log = createLogger(config.logLevel);
  // A storage fault at start (corrupt file, read-only or full disk; PostgreSQL unreachable) answers
  // 503 until it clears.
  const ctx = await openWhenStorageAllows(
    async () => {
      // PostgreSQL (DATABASE_URL): createContext connects, migrates under the advisory lock and
      // opens the store; a server that does not answer is retried here.
      if (config.databaseUrl !== undefined) return await createContext(config, { log });
      const db = openDatabase(config.databaseFile);
      try {
        // A newer release: back up, then migrate (createContext finds nothing left to apply).
        await migrateWithBackup(db, { file: config.databaseFile, log });
        return await createContext(config, { log, db });
      } catch (err) {
        if (db.open) db.close();
        throw err;
      }
    },
    config.databaseUrl === undefined
      ? { port: config.port, host: config.host, databaseFile: config.databaseFile }
      : { port: config.port, host: config.host, database: redactUrl(config.databaseUrl) },
    log,
  );
  // SQLite: WAL checkpoints off the request path. PostgreSQL has no such file to look after.
  const checkpointer = ctx.sqlite ? startCheckpointer(ctx.sqlite.db, ctx.sqlite.file, log) : undefined;

  const server = listenGracefully(createApp(ctx));
  // The proxy, not the app, closes idle keep-alive connections (else sporadic 502s): see the file.
  applyServerTimeouts(server);
  const purgeTimer = setInterval(() => void purge(ctx), PURGE_INTERVAL_MS);
  purgeTimer.unref();

  // Signal handlers go in before the port opens: a SIGTERM right after "listening" is a graceful stop.
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    clearInterval(purgeTimer);
    ctx.log.info({ signal, inFlight: server.inFlight() }, 'shutting down');
    const deadline = setTimeout(() => {
      ctx.log.warn({ inFlight: server.inFlight() }, `in-flight requests did not finish in ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting`);
      server.closeAllConnections();
      void ctx.close().finally(() => process.exit(1));
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    server.drain(() => {
      // The worker's connection first: closing the last connection checkpoints the WAL into the
      // database file and removes it.
      // PostgreSQL: closing the context ends the pools (connections closed, not left to time out).
      void (checkpointer?.stop() ?? Promise.resolve())
        .then(() => ctx.close())
        .then(() => {
          clearTimeout(deadline);
          ctx.log.info('shut down cleanly');
          process.exit(0);
        });
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Key changes are picked up by polling (src/config/key-reload.ts); SIGHUP reloads at once.
  ctx.keyReloader.start();
  process.on('SIGHUP', () => void ctx.keyReloader.reloadNow('SIGHUP'));

  await purge(ctx);
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  ctx.log.info({ url: config.publicUrl, port: config.port, production: config.production, kid: ctx.platformKeys.current.kid }, 'listening');
  if (config.metrics.port !== undefined) {
    // Metrics are not worth an outage: a taken port is logged and the service runs on.
    await startMetricsServer(ctx.metrics, { port: config.metrics.port, host: config.metrics.host }, ctx.log).catch((err: unknown) =>
      ctx.log.error({ err, port: config.metrics.port, host: config.metrics.host }, 'metrics listener could not start (METRICS_PORT taken?); serving without /metrics'),
    );
  }
  console.log(`robot-auth is listening on ${config.publicUrl}`);
}

/** Bounded growth and re-sealing: the same pass as `admin purge` (src/maintenance.ts). */
async function purge(ctx: MaintenanceDeps & Pick<AppContext, 'log'>): Promise<void> {
  try {
    const purged = await purgeNow(ctx);
    ctx.log.info({ purged }, 'purged expired rows');
  } catch (err) {
    ctx.log.error({ err }, 'purge failed');
  }
}

interface GracefulServer extends Server {
  /** Requests whose responses have not finished. */
  inFlight(): number;
  /** Stops accepting, lets in-flight requests finish, closes every connection; then `done`. */
  drain(done: () => void): void;
}

/**
 * An HTTP server that can drain. `server.close()` alone waits for keep-alive connections (a proxy
 * keeps them open for minutes) and closes only the idle ones it sees at that moment: a connection
 * whose request is still running would stay open after its response. So, once draining, every
 * response carries `Connection: close` (Node then closes the socket after it), and idle
 * connections are closed as they appear.
 */
function listenGracefully(app: RequestListener): GracefulServer {
  const active = new Set<ServerResponse>();
  let draining = false;
  const server = http.createServer(HTTP_SERVER_OPTIONS, (req, res) => {
    active.add(res);
    res.on('close', () => active.delete(res));
    if (draining) res.setHeader('Connection', 'close');
    app(req, res);
  }) as GracefulServer;
  server.inFlight = () => active.size;
  server.drain = (done) => {
    draining = true;
    for (const res of active) if (!res.headersSent) res.setHeader('Connection', 'close');
    server.close(() => done());
    server.closeIdleConnections();
    // A request that arrived on a kept-alive connection just before the close leaves it idle later.
    const sweep = setInterval(() => server.closeIdleConnections(), 250);
    sweep.unref();
    server.once('close', () => clearInterval(sweep));
  };
  return server;
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error(err);
  }
  process.exit(1);
});
