// The SSRF-safe outbound fetch (src/lib/outbound/) with the production policy, against real local
// servers: what it refuses never gets a connection. Names are pinned with the policy's `lookup`
// (the resolver under the address check, which is what runs in production), and the servers'
// self-signed certificate is trusted through `caCertificates`.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSafeFetch } from '../../src/lib/outbound/fetch.ts';
import { OutboundRefused, type OutboundPolicy } from '../../src/lib/outbound/policy.ts';
import { safeFetch, SafeFetchError } from '../../src/lib/outbound/safe-fetch.ts';
import { createTestCertificate, type TestCertificate } from '../support/test-certificate.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface TestServer {
  port: number;
  connections: number;
  handler: Handler;
}

let certificate: TestCertificate;
let key: string;
let cert: string;
const servers: (http.Server | https.Server)[] = [];
let tlsServer: TestServer;
let plainServer: TestServer;
/** Name → addresses the test resolver answers; anything else does not exist. */
let zone: Map<string, string[]>;
let lookups: string[];

const testLookup: LookupFunction = (hostname, options, callback) => {
  lookups.push(hostname);
  const addresses = zone.get(hostname.toLowerCase());
  process.nextTick(() => {
    if (!addresses || addresses.length === 0) {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
      return;
    }
    const all = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (options.all) callback(null, all);
    else callback(null, all[0]!.address, all[0]!.family);
  });
};

async function startServer(kind: 'http' | 'https'): Promise<TestServer> {
  const state: TestServer = { port: 0, connections: 0, handler: (_req, res) => res.writeHead(200).end('{}') };
  const dispatch: Handler = (req, res) => state.handler(req, res);
  const server = kind === 'http' ? http.createServer(dispatch) : https.createServer({ key, cert }, dispatch);
  server.on(kind === 'http' ? 'connection' : 'secureConnection', () => state.connections++);
  // An https connection that never completes TLS still counts: count TCP connections too.
  if (kind === 'https') server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  servers.push(server);
  return state;
}

/** Production: no private addresses, https only, OUTBOUND_PRIVATE_HOSTS as given. */
const production = (privateHosts: string[] = []): OutboundPolicy & { timeoutMs: number; maxBytes: number } => ({
  allowPrivateAddresses: false,
  privateHosts,
  caCertificates: cert,
  lookup: testLookup,
  timeoutMs: 2000,
  maxBytes: 1024,
});

async function refusedWith(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SafeFetchError);
  expect((err as Error).message).toMatch(reason);
}

beforeAll(async () => {
  certificate = createTestCertificate([
    'DNS:pds.probe.internal', 'DNS:other.probe.internal', 'DNS:sub.pds.probe.internal', 'DNS:localhost', 'IP:127.0.0.1', 'IP:::1',
  ]);
  ({ key, cert } = certificate);
  tlsServer = await startServer('https');
  plainServer = await startServer('http');
});

afterAll(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  certificate.remove();
});

beforeEach(() => {
  lookups = [];
  zone = new Map([
    ['pds.probe.internal', ['127.0.0.1']],
    ['other.probe.internal', ['127.0.0.1']],
    ['sub.pds.probe.internal', ['127.0.0.1']],
  ]);
  tlsServer.connections = 0;
  plainServer.connections = 0;
  tlsServer.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  plainServer.handler = tlsServer.handler;
});

describe('addresses: only public unicast, checked before connecting', () => {
  it.each([
    ['loopback', '127.0.0.1'],
    ['loopback (IPv6)', '[::1]'],
    ['RFC 1918', '10.0.0.1'],
    ['RFC 1918', '192.168.1.10'],
    ['link-local (cloud metadata)', '169.254.169.254'],
    ['IPv4-mapped IPv6 loopback', '[::ffff:127.0.0.1]'],
    ['IPv4-mapped IPv6 private', '[::ffff:10.0.0.1]'],
    ['unique-local IPv6', '[fd00::1]'],
  ])('an IP literal (%s, %s) is refused', async (_what, host) => {
    await refusedWith(safeFetch(new URL(`https://${host}/doc`), production()), /is not a public address/);
    const viaFetch = await createSafeFetch({ ...production(), log: { warn: () => undefined } })(`https://${host}/x`).catch((e: unknown) => e);
    expect(viaFetch).toBeInstanceOf(TypeError);
    expect((viaFetch as Error).cause).toBeInstanceOf(OutboundRefused);
  });

  it.each([
    ['loopback', ['127.0.0.1']],
    ['RFC 1918', ['10.1.2.3']],
    ['RFC 1918 172.16/12', ['172.16.5.4']],
    ['link-local', ['169.254.169.254']],
    ['IPv4-mapped IPv6', ['::ffff:192.168.0.1']],
    ['one public and one private address', ['93.184.215.14', '10.0.0.1']],
  ])('a name resolving to %s is refused in the socket lookup, with no connection', async (_what, addresses) => {
    zone.set('evil.example.net', addresses);
    await refusedWith(safeFetch(new URL('https://evil.example.net/doc'), production()), /evil\.example\.net resolves to a non-public address/);
    // One lookup, the socket's own: no check-then-connect window for DNS rebinding.
    expect(lookups).toEqual(['evil.example.net']);
    expect(tlsServer.connections).toBe(0);
  });

  it('a public name on a port other than 443 is refused', async () => {
    zone.set('public.example.net', ['93.184.215.14']);
    await refusedWith(safeFetch(new URL('https://public.example.net:2019/stop'), production()), /port 2019 is not fetched/);
    await refusedWith(safeFetch(new URL('https://93.184.215.14:8443/'), production()), /port 8443 is not fetched/);
  });
});

describe('OUTBOUND_PRIVATE_HOSTS: exact names only, https still required', () => {
  it('a listed name may resolve to loopback and use its own port', async () => {
    const url = new URL(`https://pds.probe.internal:${tlsServer.port}/doc`);
    const fetched = await safeFetch(url, production(['pds.probe.internal']));
    expect(fetched.body.toString()).toBe('{"ok":true}');
    expect(fetched.contentType).toBe('application/json');
    expect(tlsServer.connections).toBeGreaterThan(0);
  });

  it('the same name is refused when it is not listed (the refusal is the policy, not the server)', async () => {
    await refusedWith(safeFetch(new URL(`https://pds.probe.internal:${tlsServer.port}/doc`), production()), /non-public address \(127\.0\.0\.1\)/);
    expect(tlsServer.connections).toBe(0);
  });

  it('only the exact name: not a subdomain, not another name, not the IP it resolves to', async () => {
    const listed = production(['pds.probe.internal']);
    for (const host of ['sub.pds.probe.internal', 'other.probe.internal']) {
      await refusedWith(safeFetch(new URL(`https://${host}:${tlsServer.port}/doc`), listed), /non-public address/);
    }
    await refusedWith(safeFetch(new URL(`https://127.0.0.1:${tlsServer.port}/doc`), listed), /not a public address/);
    expect(tlsServer.connections).toBe(0);
  });

  it('host:port exempts that port only', async () => {
    const listed = production([`pds.probe.internal:${tlsServer.port}`]);
    expect((await safeFetch(new URL(`https://pds.probe.internal:${tlsServer.port}/doc`), listed)).body.toString()).toBe('{"ok":true}');
    await refusedWith(safeFetch(new URL(`https://pds.probe.internal:${plainServer.port}/doc`), listed), /non-public address/);
  });

  it('http is refused in production, even for a listed name', async () => {
    const listed = { ...production(['pds.probe.internal']), log: { warn: () => undefined } };
    await refusedWith(safeFetch(new URL(`http://pds.probe.internal:${plainServer.port}/doc`), listed), /http: URLs are not fetched/);
    const err = await createSafeFetch(listed)(`http://pds.probe.internal:${plainServer.port}/doc`).catch((e: unknown) => e);
    expect((err as Error).cause).toBeInstanceOf(OutboundRefused);
    expect(plainServer.connections).toBe(0);
  });
});

describe('redirects, size and time', () => {
  const listed = () => production(['pds.probe.internal']);

  it('a 301 to a private address is not followed', async () => {
    tlsServer.handler = (_req, res) => res.writeHead(301, { location: `http://127.0.0.1:${plainServer.port}/stop` }).end();
    await refusedWith(safeFetch(new URL(`https://pds.probe.internal:${tlsServer.port}/doc`), listed()), /answered 301 \(a redirect\); redirects are not followed/);
    const fetchFn = createSafeFetch({ ...listed(), log: { warn: () => undefined } });
    const followed = await fetchFn(`https://pds.probe.internal:${tlsServer.port}/doc`).catch((e: unknown) => e);
    expect(followed).toBeInstanceOf(TypeError);
    expect(String((followed as Error).cause)).toContain('redirects are not followed');
    // redirect: 'manual' (what the library asks for metadata): the 301 itself, nothing more.
    const manual = await fetchFn(`https://pds.probe.internal:${tlsServer.port}/doc`, { redirect: 'manual' });
    expect(manual.status).toBe(301);
    expect(plainServer.connections).toBe(0);
  });

  it('a body over the cap is refused, whether or not its length is declared', async () => {
    tlsServer.handler = (_req, res) => res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000));
    await refusedWith(safeFetch(new URL(`https://pds.probe.internal:${tlsServer.port}/doc`), listed()), /larger than 1024 bytes/);
    tlsServer.handler = (_req, res) => {
      res.writeHead(200);
      for (let i = 0; i < 50; i++) res.write('x'.repeat(100));
      res.end();
    };
    await refusedWith(safeFetch(new URL(`https://pds.probe.internal:${tlsServer.port}/doc`), listed()), /larger than 1024 bytes/);
  });

  it('an answer that never completes hits the deadline', async () => {
    tlsServer.handler = (_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    };
    const started = Date.now();
    await refusedWith(safeFetch(new URL(`https://pds.probe.internal:${tlsServer.port}/doc`), { ...listed(), timeoutMs: 300, maxBytes: 1_000_000 }), /no complete answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('the fetch function the ATProto client uses', () => {
  it('passes method, headers and body through, and returns status, headers and body', async () => {
    let seen: { method?: string; type?: string; dpop?: string; body: string } = { body: '' };
    tlsServer.handler = (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = { method: req.method, type: req.headers['content-type'], dpop: req.headers.dpop as string, body };
        res.writeHead(400, { 'content-type': 'application/json', 'dpop-nonce': 'n1' }).end('{"error":"use_dpop_nonce"}');
      });
    };
    const fetchFn = createSafeFetch({ ...production(['pds.probe.internal']), log: { warn: () => undefined } });
    const request = new Request(`https://pds.probe.internal:${tlsServer.port}/oauth/par`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: 'proof' },
      body: 'client_id=x&scope=atproto',
    });
    const res = await fetchFn(request);
    expect(seen).toEqual({ method: 'POST', type: 'application/x-www-form-urlencoded', dpop: 'proof', body: 'client_id=x&scope=atproto' });
    expect(res.status).toBe(400);
    expect(res.headers.get('dpop-nonce')).toBe('n1');
    expect(await res.json()).toEqual({ error: 'use_dpop_nonce' });
  });

  it('a refusal is logged for the operator, with what to do', async () => {
    const warnings: { fields: Record<string, unknown>; msg: string }[] = [];
    const log = { warn: (fields: Record<string, unknown>, msg: string) => void warnings.push({ fields, msg }) };
    const fetchFn = createSafeFetch({ ...production(), log: log as never });
    await expect(fetchFn('http://localhost:2019/stop', { method: 'POST' })).rejects.toThrow('fetch failed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.fields).toMatchObject({ target: 'http://localhost:2019', path: '/stop', reason: 'http: URLs are not fetched; only https' });
    expect(warnings[0]?.msg).toContain('OUTBOUND_PRIVATE_HOSTS');
  });

  it('an aborted signal stops the request', async () => {
    tlsServer.handler = () => undefined; // never answers
    const fetchFn = createSafeFetch({ ...production(['pds.probe.internal']), timeoutMs: 10_000, log: { warn: () => undefined } });
    const started = Date.now();
    await expect(fetchFn(`https://pds.probe.internal:${tlsServer.port}/x`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('development policy: loopback and http are allowed (the local PDS)', async () => {
    const fetchFn = createSafeFetch({ allowPrivateAddresses: true, allowHttp: true, timeoutMs: 2000, maxBytes: 1024, log: { warn: () => undefined } });
    const res = await fetchFn(`http://127.0.0.1:${plainServer.port}/doc`);
    expect(await res.json()).toEqual({ ok: true });
  });
});
