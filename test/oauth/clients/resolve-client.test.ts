// Client ID metadata documents fetched from a REAL local https server (self-signed certificate made
// with openssl here, trusted through caCertificates): cached with a bounded TTL, refused when
// invalid, redirected, oversize or slow, served stale when the server is down, and never fetched
// from a private address unless allowPrivateAddresses.
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../../src/db/open.ts';
import { createClientResolver, type ClientResolverOptions } from '../../../src/oauth/clients/resolve-client.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { createTestCertificate, json, startDocServer as startServer, type DocServer, type TestCertificate } from './https-stand-in.ts';

let certificate: TestCertificate;
let cert: string;

beforeAll(() => {
  certificate = createTestCertificate();
  cert = certificate.cert;
});
afterAll(() => certificate.remove());

const startDocServer = () => startServer(certificate);

const documentFor = (clientId: string, extra: Record<string, unknown> = {}) => ({
  client_id: clientId,
  client_name: 'Claude Code',
  redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  ...extra,
});

let t: TestApp;
let docs: DocServer;
let warnings: { msg: string; reason?: string; kind?: string; httpStatus?: number }[];

function resolverWith(options: Partial<ClientResolverOptions> = {}) {
  const log = pino({ level: 'info' }, {
    write(line: string) {
      const entry = JSON.parse(line) as { level: number; msg: string; reason?: string; kind?: string; httpStatus?: number };
      if (entry.level === 40) warnings.push(entry);
    },
  });
  return createClientResolver({ store: t.ctx.store, log, allowPrivateAddresses: true, caCertificates: cert, ...options });
}

/** Serves a valid document at `p` and returns its client_id. */
function serveValid(p: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): string {
  const clientId = `${docs.origin}${p}`;
  docs.routes.set(p, json(documentFor(clientId, extra), headers));
  return clientId;
}

const row = (clientId: string) =>
  t.ctx.sqlite!.db.prepare('SELECT kind, fetched_at, stale_at FROM oauth_clients WHERE client_id = ?').get(clientId) as
    | { kind: string; fetched_at: number; stale_at: number }
    | undefined;

const makeStale = (clientId: string) =>
  t.ctx.sqlite!.db.prepare('UPDATE oauth_clients SET stale_at = ? WHERE client_id = ?').run(nowSeconds() - 1, clientId);

beforeEach(async () => {
  t = await startTestApp({}, { listen: false });
  docs = await startDocServer();
  warnings = [];
});
afterEach(async () => {
  await docs.close();
  t.close();
});

describe('fetching and caching a valid document', () => {
  it('fetches once, validates, caches for the default hour, and answers from the cache after', async () => {
    const clientId = serveValid('/oauth/claude-code-client-metadata', { unknown_field: 'x', client_uri: 'https://claude.ai' });
    const resolver = resolverWith();
    const client = await resolver.resolve(clientId);
    expect(client).toMatchObject({
      clientId,
      kind: 'metadata_document',
      secretHash: null,
      metadata: {
        client_name: 'Claude Code',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
        client_uri: 'https://claude.ai',
      },
    });
    expect(client?.metadata).not.toHaveProperty('client_id');
    expect(client?.metadata).not.toHaveProperty('unknown_field');
    const cached = row(clientId);
    expect(cached?.kind).toBe('metadata_document');
    expect((cached?.stale_at ?? 0) - (cached?.fetched_at ?? 0)).toBe(3600);

    expect(await resolver.resolve(clientId)).toMatchObject({ clientId });
    expect(await resolverWith().resolve(clientId)).toMatchObject({ clientId });
    expect(docs.hits.get('/oauth/claude-code-client-metadata')).toBe(1);
  });

  it('a missing token_endpoint_auth_method means none', async () => {
    const clientId = `${docs.origin}/no-method`;
    const doc: Record<string, unknown> = documentFor(clientId);
    delete doc.token_endpoint_auth_method;
    docs.routes.set('/no-method', json(doc));
    expect((await resolverWith().resolve(clientId))?.metadata.token_endpoint_auth_method).toBe('none');
  });

  it.each([
    ['max-age=120', 120],
    ['public, max-age=5', 60],
    ['max-age=999999', 86400],
    ['no-store', 60],
    ['no-cache, max-age=600', 60],
  ])('Cache-Control "%s" → fresh for %i s', async (cacheControl, ttl) => {
    const clientId = serveValid('/cc', {}, { 'Cache-Control': cacheControl });
    await resolverWith().resolve(clientId);
    const cached = row(clientId);
    expect((cached?.stale_at ?? 0) - (cached?.fetched_at ?? 0)).toBe(ttl);
  });

  it('refetches a stale copy and stores the new metadata', async () => {
    const clientId = serveValid('/doc');
    const resolver = resolverWith();
    await resolver.resolve(clientId);
    serveValid('/doc', { client_name: 'Renamed' });
    makeStale(clientId);
    expect((await resolver.resolve(clientId))?.metadata.client_name).toBe('Renamed');
    expect(docs.hits.get('/doc')).toBe(2);
    expect((row(clientId)?.stale_at ?? 0)).toBeGreaterThan(nowSeconds());
  });

  it('concurrent resolutions share one fetch', async () => {
    const clientId = serveValid('/doc');
    const resolver = resolverWith();
    const results = await Promise.all([resolver.resolve(clientId), resolver.resolve(clientId), resolver.resolve(clientId)]);
    expect(results.every((r) => r?.clientId === clientId)).toBe(true);
    expect(docs.hits.get('/doc')).toBe(1);
  });

  it('a plain client_id is only looked up, never fetched', async () => {
    const registered = (await t.ctx.store.repos.clients.insertRegistered(
      { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] },
      null,
    ));
    const resolver = resolverWith();
    expect((await resolver.resolve(registered.clientId))?.clientId).toBe(registered.clientId);
    expect(await resolver.resolve('rc_unknown')).toBeUndefined();
    expect(await resolver.resolve(`http://127.0.0.1:${new URL(docs.origin).port}/doc`)).toBeUndefined();
    expect(docs.connections).toBe(0);
  });
});

describe('refusals (never fetched before → undefined, nothing cached)', () => {
  const refused = async (clientId: string, options: Partial<ClientResolverOptions> = {}) => {
    expect(await resolverWith(options).resolve(clientId)).toBeUndefined();
    expect(row(clientId)).toBeUndefined();
  };

  it('a document whose client_id is not its own URL', async () => {
    const clientId = `${docs.origin}/mismatch`;
    docs.routes.set('/mismatch', json(documentFor(`${docs.origin}/other`)));
    await refused(clientId);
    expect(warnings[0]?.reason).toContain('is not its own URL');
  });

  it('a document with a shared-secret auth method, a client_secret, a bad redirect URI, or not JSON', async () => {
    const cases: [string, unknown][] = [
      ['/basic', { token_endpoint_auth_method: 'client_secret_basic' }],
      ['/pkjwt', { token_endpoint_auth_method: 'private_key_jwt' }],
      ['/secret', { client_secret: 'abc' }],
      ['/redirect-uri', { redirect_uris: ['http://evil.example/cb'] }],
      ['/grant', { grant_types: ['client_credentials'] }],
    ];
    for (const [p, extra] of cases) {
      docs.routes.set(p, json(documentFor(`${docs.origin}${p}`, extra as Record<string, unknown>)));
      await refused(`${docs.origin}${p}`);
    }
    docs.routes.set('/html', (_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html></html>'));
    await refused(`${docs.origin}/html`);
    docs.routes.set('/array', json([documentFor(`${docs.origin}/array`)]));
    await refused(`${docs.origin}/array`);
  });

  it('a redirect (3xx) is not followed', async () => {
    const target = serveValid('/target');
    docs.routes.set('/moved', (_req, res) => res.writeHead(302, { Location: target }).end());
    docs.routes.set('/moved-permanently', (_req, res) => res.writeHead(308, { Location: target }).end());
    await refused(`${docs.origin}/moved`);
    await refused(`${docs.origin}/moved-permanently`);
    expect(docs.hits.get('/target')).toBeUndefined();
    expect(warnings[0]?.reason).toContain('redirect');
  });

  it('an error status', async () => {
    await refused(`${docs.origin}/missing`);
    docs.routes.set('/boom', (_req, res) => res.writeHead(500).end());
    await refused(`${docs.origin}/boom`);
  });

  it('an oversize body, declared or streamed', async () => {
    const padded = (p: string) => documentFor(`${docs.origin}${p}`, { software_id: 'x', padding: 'y'.repeat(20_000) });
    docs.routes.set('/big', json(padded('/big')));
    await refused(`${docs.origin}/big`);
    expect(warnings.at(-1)?.reason).toContain('larger than');

    let streamedBytes = 0;
    let clientGaveUp = false;
    docs.routes.set('/big-chunked', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }); // no Content-Length: chunked
      res.on('close', () => {
        clientGaveUp = !res.writableFinished;
      });
      const chunk = ' '.repeat(1024);
      const pump = () => {
        if (res.destroyed || streamedBytes >= 1_000_000) return res.end();
        streamedBytes += chunk.length;
        res.write(chunk, () => setImmediate(pump));
      };
      pump();
    });
    await refused(`${docs.origin}/big-chunked`);
    expect(warnings.at(-1)?.reason).toContain('larger than');
    await new Promise((r) => setTimeout(r, 50));
    expect(clientGaveUp).toBe(true);
    expect(streamedBytes).toBeLessThan(1_000_000);
  });

  it('a slow server times out', async () => {
    const clientId = `${docs.origin}/slow`;
    docs.routes.set('/slow', (_req, res) => {
      const timer = setTimeout(() => json(documentFor(clientId))(_req, res), 3000);
      res.on('close', () => clearTimeout(timer));
    });
    const started = Date.now();
    await refused(clientId, { fetchTimeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(warnings[0]?.reason).toContain('within 300 ms');
  });

  it('a body that trickles in past the deadline times out too', async () => {
    const clientId = `${docs.origin}/trickle`;
    docs.routes.set('/trickle', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    await refused(clientId, { fetchTimeoutMs: 400 });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('client_id URLs that cannot name a document are refused without connecting', async () => {
    for (const bad of [`${docs.origin}/`, `${docs.origin}`, `${docs.origin}/a/../doc`, `${docs.origin}/doc#x`, `https://user@127.0.0.1:${new URL(docs.origin).port}/doc`, 'https://', 'https:nothing']) {
      await refused(bad);
    }
    expect(docs.connections).toBe(0);
  });

  it('an untrusted certificate is refused', async () => {
    const clientId = serveValid('/doc');
    await refused(clientId, { caCertificates: undefined });
  });
});

describe('serving a stale copy when the server is down', () => {
  it('serves the stale copy with a warning, and waits before retrying', async () => {
    const down = await startDocServer();
    const clientId = `${down.origin}/doc`;
    down.routes.set('/doc', json(documentFor(clientId)));
    const resolver = resolverWith();
    const fresh = await resolver.resolve(clientId);
    expect(fresh?.metadata.client_name).toBe('Claude Code');
    await down.close();
    makeStale(clientId);

    const stale = await resolver.resolve(clientId);
    expect(stale).toMatchObject({ clientId, metadata: fresh?.metadata });
    expect(warnings.map((w) => w.msg)).toEqual(['client metadata document could not be fetched again; serving the stale copy']);
    expect(await resolver.resolve(clientId)).toMatchObject({ clientId });
    expect(warnings).toHaveLength(1); // within the retry pause: no second attempt
  });

  it('serves the stale copy when the refetched document cannot be stored (a storage fault); a new document fails loudly', async () => {
    const clientId = serveValid('/doc');
    expect(await resolverWith().resolve(clientId)).toMatchObject({ clientId });
    makeStale(clientId);
    const fault = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const failingWrites = { repos: t.ctx.store.repos, transaction: () => Promise.reject(fault) };
    const resolver = resolverWith({ store: failingWrites });
    expect(await resolver.resolve(clientId)).toMatchObject({ clientId, kind: 'metadata_document' });
    expect(warnings.map((w) => w.msg)).toEqual([expect.stringMatching(/could not be stored; serving the stale copy/)]);
    const newId = serveValid('/new');
    await expect(resolver.resolve(newId)).rejects.toBe(fault);
    expect(row(newId)).toBeUndefined();
  });

  it('never fetched and the server is down → undefined', async () => {
    const down = await startDocServer();
    const clientId = `${down.origin}/doc`;
    await down.close();
    expect(await resolverWith().resolve(clientId)).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind: 'unreachable' });
    expect(warnings[0]?.msg).toMatch(/^client metadata document could not be fetched \(.*ECONNREFUSED.*\)\. Check that this server can reach/);
  });

  it('a stale copy is also served when the refetched document became invalid', async () => {
    const clientId = serveValid('/doc');
    const resolver = resolverWith({ retryAfterFailureSeconds: 0 });
    await resolver.resolve(clientId);
    docs.routes.set('/doc', json(documentFor('https://someone-else.example/doc')));
    makeStale(clientId);
    expect((await resolver.resolve(clientId))?.metadata.client_name).toBe('Claude Code');
    expect(docs.hits.get('/doc')).toBe(2);
  });
});

describe('allowPrivateAddresses false', () => {
  it('refuses 127.0.0.1 and a name resolving to loopback before connecting', async () => {
    const port = new URL(docs.origin).port;
    const literal = serveValid('/doc');
    const resolver = resolverWith({ allowPrivateAddresses: false });
    expect(await resolver.resolve(literal)).toBeUndefined();
    expect(warnings.at(-1)?.reason).toContain('not a public address');
    expect(await resolver.resolve(`https://localhost:${port}/doc`)).toBeUndefined();
    expect(warnings.at(-1)?.reason).toContain('non-public address');
    expect(await resolver.resolve(`https://[::1]:${port}/doc`)).toBeUndefined();
    expect(docs.connections).toBe(0);
    expect(docs.hits.size).toBe(0);
  });

  it('the same URL is fetched when private addresses are allowed (the refusal above is the policy, not the server)', async () => {
    const literal = serveValid('/doc');
    expect(await resolverWith({ allowPrivateAddresses: true }).resolve(literal)).toBeDefined();
    expect(docs.connections).toBe(1);
  });
});

// Issue 10 item 9: "could not be fetched" and "fetched but refused" are different stories, for the
// person (authorize page, test/oauth/clients/document-failure.test.ts) and for the operator (here).
describe('unreachable versus refused, and what the operator is told', () => {
  it('a document fetched but refused is logged as refused, never as "could not be fetched"', async () => {
    const clientId = `${docs.origin}/mismatch`;
    docs.routes.set('/mismatch', json(documentFor(`${docs.origin}/other`)));
    const resolver = resolverWith();
    expect(await resolver.resolve(clientId)).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind: 'refused' });
    expect(warnings[0]?.msg).toContain('was fetched but refused');
    expect(warnings[0]?.msg).not.toContain('could not be fetched');
    expect(resolver.failureFor(clientId)).toMatchObject({ kind: 'refused', reason: expect.stringContaining('is not its own URL') });
  });

  it('a 403 from the host\'s edge is unreachable, and the log says to set CLIENT_ID_METADATA_DOCUMENTS=off', async () => {
    docs.routes.set('/oauth/mcp-oauth-client-metadata', (_req, res) => res.writeHead(403, { 'Content-Type': 'text/html' }).end('Forbidden'));
    const clientId = `${docs.origin}/oauth/mcp-oauth-client-metadata`;
    const resolver = resolverWith();
    expect(await resolver.resolve(clientId)).toBeUndefined();
    expect(warnings[0]).toMatchObject({ kind: 'unreachable', httpStatus: 403 });
    expect(warnings[0]?.msg).toContain("answered 403 to this server's address");
    expect(warnings[0]?.msg).toContain('set CLIENT_ID_METADATA_DOCUMENTS=off so clients such as Claude register by DCR');
    expect(resolver.failureFor(clientId)).toMatchObject({ kind: 'unreachable', httpStatus: 403 });
  });

  it('documentsEnabled false (CLIENT_ID_METADATA_DOCUMENTS=off): a URL client_id is unknown, nothing is fetched', async () => {
    const clientId = serveValid('/doc');
    const resolver = resolverWith({ documentsEnabled: false });
    expect(await resolver.resolve(clientId)).toBeUndefined();
    expect(docs.connections).toBe(0);
    expect(resolver.failureFor(clientId)).toMatchObject({ kind: 'disabled' });
    // Registered clients are unaffected.
    const registered = (await t.ctx.store.repos.clients.insertRegistered(
      { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] },
      null,
    ));
    expect(await resolver.resolve(registered.clientId)).toMatchObject({ clientId: registered.clientId });
  });
});
