// The metrics listener: GET /metrics (Prometheus text format) on METRICS_HOST:METRICS_PORT
// (loopback 9464 by default), a separate server from the public one, so the metrics are never
// reachable through Caddy. Anything else there is a 404.
import type { Server } from 'node:http';
import { http } from '../lib/node-http.ts';
import type { Logger } from '../web/log.ts';
import type { Metrics } from './metrics.ts';

export async function startMetricsServer(
  metrics: Pick<Metrics, 'registry' | 'collectProcessDefaults'>,
  listen: { port: number; host: string },
  log: Pick<Logger, 'info' | 'error'>,
): Promise<Server> {
  metrics.collectProcessDefaults();
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' }).end(text),
      (err: unknown) => {
        log.error({ err }, 'metrics could not be collected');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics could not be collected\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  server.unref();
  const address = server.address();
  log.info({ host: listen.host, port: typeof address === 'object' && address ? address.port : listen.port }, 'metrics listening');
  return server;
}
