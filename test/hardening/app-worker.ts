// A second instance of the app in a worker thread, on the data directory of the first: two
// processes' worth of real parallelism on one database (its own SQLite connection or PostgreSQL
// pool, its own event loop; DATABASE_URL in workerData selects PostgreSQL). Posts { port } once
// listening; closes on any message.
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';

const env = workerData as Record<string, string>;
const ctx = await createContext(parseConfig(env));
const server = http.createServer(createApp(ctx));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
parentPort?.postMessage({ port: (server.address() as { port: number }).port });
parentPort?.once('message', () => {
  server.closeAllConnections();
  server.close(() => {
    void Promise.resolve(ctx.close()).finally(() => process.exit(0));
  });
});
