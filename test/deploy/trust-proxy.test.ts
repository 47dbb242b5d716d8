// TRUST_PROXY: which peers may set X-Forwarded-For, i.e. whose word decides req.ip (the rate-limit
// key, the logged address). app.ts passes config.trustProxy to Express's `trust proxy`, as here.
// (test/deploy/caddy.test.ts shows the same through real Caddy and the real app.)
import http from 'node:http';
import net from 'node:net';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';

/** An app that trusts proxies as the real one does and answers with req.ip. */
function ipEcho(env: Record<string, string> = {}): express.Express {
  const app = express();
  app.set('trust proxy', parseConfig(env).trustProxy);
  app.get('/ip', (req, res) => {
    res.json({ ip: req.ip });
  });
  return app;
}

/**
 * req.ip as Express computes it for a request whose TCP peer is `peer` (any address, loopback or not:
 * the request runs through the app in memory over a socket that reports that address).
 */
function ipSeenFrom(env: Record<string, string>, peer: string, forwardedFor: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const app = express();
    app.set('trust proxy', parseConfig(env).trustProxy);
    app.get('/ip', (req, res) => {
      resolve(req.ip);
      res.end();
    });
    const socket = new net.Socket();
    Object.defineProperty(socket, 'remoteAddress', { value: peer });
    const req = new http.IncomingMessage(socket);
    req.method = 'GET';
    req.url = '/ip';
    req.headers = { host: 'localhost', 'x-forwarded-for': forwardedFor };
    app.use(() => reject(new Error('/ip was not reached')));
    app(req, new http.ServerResponse(req));
  });
}

describe('TRUST_PROXY (default: loopback, i.e. Caddy on the same machine)', () => {
  it('a loopback peer (the proxy) decides req.ip through X-Forwarded-For', async () => {
    const res = await request(ipEcho()).get('/ip').set('X-Forwarded-For', '203.0.113.7');
    expect(res.body).toEqual({ ip: '203.0.113.7' });
  });

  it('only the hop the proxy appended counts: what the client put before it is ignored', async () => {
    const res = await request(ipEcho()).get('/ip').set('X-Forwarded-For', '198.51.100.1, 203.0.113.7');
    expect(res.body).toEqual({ ip: '203.0.113.7' });
  });

  it('a direct non-loopback peer cannot choose req.ip', async () => {
    expect(await ipSeenFrom({}, '192.0.2.10', '203.0.113.7')).toBe('192.0.2.10');
    expect(await ipSeenFrom({}, '2001:db8::10', '203.0.113.7')).toBe('2001:db8::10');
    expect(await ipSeenFrom({}, '::ffff:192.0.2.10', '203.0.113.7')).toBe('::ffff:192.0.2.10');
    // …while the proxy on loopback (IPv4, IPv6, or IPv4-mapped on a dual-stack socket) can.
    expect(await ipSeenFrom({}, '127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
    expect(await ipSeenFrom({}, '::1', '203.0.113.7')).toBe('203.0.113.7');
    expect(await ipSeenFrom({}, '::ffff:127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
  });
});

describe('TRUST_PROXY set to the proxy’s own address (Caddy on another machine)', () => {
  it('that proxy decides req.ip; any other peer, loopback included, cannot', async () => {
    const env = { TRUST_PROXY: '10.0.0.5' };
    expect(await ipSeenFrom(env, '10.0.0.5', '203.0.113.7')).toBe('203.0.113.7');
    expect(await ipSeenFrom(env, '10.0.0.6', '203.0.113.7')).toBe('10.0.0.6');
    const res = await request(ipEcho(env)).get('/ip').set('X-Forwarded-For', '203.0.113.7');
    expect(res.body.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});
