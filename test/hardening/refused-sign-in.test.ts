// A sign-in the authorization server refuses must leave nothing behind. @atproto/oauth-client stores
// the authorization state before its pushed authorization request (PAR) and keeps it when the PAR
// fails; without cleanup, every refused attempt left an atproto_auth_states row for an hour.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { anonymousCsrf, countChanges, expectNot5xx, rowCounts, startHardeningApp, type HardeningApp } from './support.ts';

let app: HardeningApp;
let fakeServer: http.Server;
let fakeOrigin: string;
let parRequests = 0;
/** What the fake authorization server's PAR endpoint answers. */
let parAnswer: { status: number; body: string } = { status: 400, body: JSON.stringify({ error: 'invalid_request', error_description: 'no' }) };

/** An authorization server with the local PDS's metadata, whose PAR endpoint refuses everything. */
async function startFakeAuthorizationServer(): Promise<void> {
  const pdsOrigin = new URL(inject('pdsUrl')).origin;
  const res = await fetch(`${pdsOrigin}/.well-known/oauth-authorization-server`);
  const template = await res.text();
  fakeServer = http.createServer((req, response) => {
    if (req.url === '/.well-known/oauth-authorization-server') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(template.split(pdsOrigin).join(fakeOrigin));
    } else if (req.method === 'POST' && req.url === '/oauth/par') {
      parRequests++;
      req.resume();
      req.on('end', () => response.writeHead(parAnswer.status, { 'content-type': 'application/json' }).end(parAnswer.body));
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
    }
  });
  await new Promise<void>((resolve) => fakeServer.listen(0, '127.0.0.1', resolve));
  fakeOrigin = `http://127.0.0.1:${(fakeServer.address() as { port: number }).port}`;
}

beforeAll(async () => {
  app = await startHardeningApp();
  await startFakeAuthorizationServer();
});
afterAll(async () => {
  await app?.close();
  fakeServer?.closeAllConnections();
  await new Promise<void>((resolve) => fakeServer?.close(() => resolve()));
});

describe('a sign-in refused by the authorization server', () => {
  for (const answer of [
    { status: 400, body: JSON.stringify({ error: 'invalid_request', error_description: 'refused' }) },
    { status: 500, body: 'oops' },
    { status: 201, body: JSON.stringify({ request_uri: 42 }) },
  ]) {
    it(`PAR answering ${answer.status} ${answer.body.slice(0, 30)}: the form again, and no authorization state kept`, async () => {
      parAnswer = answer;
      const csrf = await anonymousCsrf(app);
      const before = await rowCounts(app);
      const parBefore = parRequests;
      const res = await app.http().post('/auth/login').type('form').set('Cookie', csrf.cookie).send({ handle: fakeOrigin, _csrf: csrf.token });
      expectNot5xx(res);
      expect(parRequests).toBeGreaterThan(parBefore);
      expect(res.status).toBe(400);
      expect(res.text).toContain('We could not reach a sign-in server');
      expect([res.headers['set-cookie'] ?? []].flat().some((c) => c.startsWith('signin_binding='))).toBe(false);
      expect(countChanges(before, await rowCounts(app))).toEqual({});
    });
  }
});
