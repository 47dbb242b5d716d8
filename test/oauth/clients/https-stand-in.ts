// A REAL local https server standing in for the hosts that publish client ID metadata documents and
// JWKS (claude.ai, chatgpt.com): a self-signed certificate (test/support/test-certificate.ts), trusted
// by the code under test through caCertificates. Shared by the resolver, client-assertion and interop tests.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestCertificate } from '../../support/test-certificate.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface DocServer {
  origin: string;
  routes: Map<string, Route>;
  /** Requests per path. */
  hits: Map<string, number>;
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

export { createTestCertificate, type TestCertificate } from '../../support/test-certificate.ts';

export async function startDocServer({ key, cert }: Pick<TestCertificate, 'key' | 'cert'>): Promise<DocServer> {
  const routes = new Map<string, Route>();
  const hits = new Map<string, number>();
  const server = https.createServer({ key, cert }, (req, res) => {
    const p = req.url ?? '/';
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const route = routes.get(p);
    if (route) route(req, res);
    else res.writeHead(404).end('not found');
  });
  const state = { connections: 0 };
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    routes,
    hits,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const json = (body: unknown, headers: Record<string, string> = {}): Route => (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
};
