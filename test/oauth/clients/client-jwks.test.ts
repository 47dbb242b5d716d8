// The JWKS cache of private_key_jwt clients (src/oauth/clients/client-jwks.ts) against a REAL local
// https server: fresh for the response's max-age (bounded), served stale when a refetch fails,
// refetched early only when asked and not more than once per minRefetchSeconds, private and
// symmetric keys dropped, and a set that was never fetched failing with the reason.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientJwksError, createClientJwks } from '../../../src/oauth/clients/client-jwks.ts';
import { createTestCertificate, json, startDocServer, type DocServer, type TestCertificate } from './https-stand-in.ts';

let certificate: TestCertificate;
let server: DocServer;

beforeAll(() => {
  certificate = createTestCertificate();
});
afterAll(() => certificate.remove());
beforeEach(async () => {
  server = await startDocServer(certificate);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await server.close();
});

const rsa = (kid: string) => ({ kty: 'RSA', kid, n: 'sXch', e: 'AQAB' });
const jwksWith = (options: { minRefetchSeconds?: number } = {}) =>
  createClientJwks({ fetchOptions: { allowPrivateAddresses: true, caCertificates: certificate.cert, timeoutMs: 2000, maxBytes: 65536 }, ...options });

/** Moves the clock `seconds` ahead for nowSeconds() (Date.now). */
function advance(seconds: number) {
  const base = Date.now();
  vi.spyOn(Date, 'now').mockReturnValue(base + seconds * 1000);
}

describe('client JWKS cache', () => {
  it('keeps public RSA/EC keys only, and answers from the cache while fresh', async () => {
    server.routes.set('/jwks', json({ keys: [rsa('a'), { kty: 'oct', k: 'c2VjcmV0' }, { ...rsa('priv'), d: 'x' }, { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'e' }] }));
    const cache = jwksWith();
    const set = await cache.keysFor(`${server.origin}/jwks`);
    expect(set.keys.map((k) => k.kid)).toEqual(['a', 'e']);
    await cache.keysFor(`${server.origin}/jwks`);
    expect(server.hits.get('/jwks')).toBe(1);
  });

  it('serves the stale set when a refetch fails, and does not retry within the pause', async () => {
    server.routes.set('/jwks', json({ keys: [rsa('a')] }, { 'Cache-Control': 'max-age=60' }));
    const cache = jwksWith();
    await cache.keysFor(`${server.origin}/jwks`);
    server.routes.set('/jwks', (_req, res) => res.writeHead(503).end());
    advance(120);
    expect((await cache.keysFor(`${server.origin}/jwks`)).keys.map((k) => k.kid)).toEqual(['a']);
    expect(server.hits.get('/jwks')).toBe(2);
    await cache.keysFor(`${server.origin}/jwks`, true);
    expect(server.hits.get('/jwks')).toBe(2);
  });

  it('a requested refetch (unknown kid) happens once minRefetchSeconds have passed', async () => {
    server.routes.set('/jwks', json({ keys: [rsa('a')] }));
    const cache = jwksWith({ minRefetchSeconds: 60 });
    await cache.keysFor(`${server.origin}/jwks`);
    server.routes.set('/jwks', json({ keys: [rsa('b')] }));
    expect((await cache.keysFor(`${server.origin}/jwks`, true)).keys[0]?.kid).toBe('a');
    advance(61);
    expect((await cache.keysFor(`${server.origin}/jwks`, true)).keys[0]?.kid).toBe('b');
    expect(server.hits.get('/jwks')).toBe(2);
  });

  it('never fetched and failing: a ClientJwksError with the reason; not JSON or no keys list too', async () => {
    const cache = jwksWith();
    await expect(cache.keysFor(`${server.origin}/missing`)).rejects.toThrow(/HTTP 404/);
    server.routes.set('/html', (_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>'));
    await expect(cache.keysFor(`${server.origin}/html`)).rejects.toThrow(ClientJwksError);
    server.routes.set('/nokeys', json({ key: [] }));
    await expect(cache.keysFor(`${server.origin}/nokeys`)).rejects.toThrow(/no "keys" list/);
  });

  it('never fetches from a private address unless allowed', async () => {
    server.routes.set('/jwks', json({ keys: [rsa('a')] }));
    const strict = createClientJwks({ fetchOptions: { allowPrivateAddresses: false, caCertificates: certificate.cert, timeoutMs: 2000, maxBytes: 65536 } });
    await expect(strict.keysFor(`${server.origin}/jwks`)).rejects.toThrow(/not a public address/);
    expect(server.connections).toBe(0);
  });
});
