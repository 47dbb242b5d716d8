// The token endpoint's light path (src/web/token-light-path.ts) answers exactly as the Express chain
// does: each request sent once with the light path on and once with it off, over a real socket;
// status, headers (minus Date, the request id by shape), body, the request log line and the request
// metric must agree. A refresh is single-use, so each side presents its own token of its own grant
// and the two 200s are compared field by field. The variants the light path must leave to Express
// (another spelling, another host, another body encoding, a spent budget…) are checked not taken.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/lib/secrets.ts';
import { lightPathSwitch } from '../../src/web/light-request.ts';
import type { TestApp } from '../support/app.ts';
import { both, send, started, type Answer, type LogLine, type Shot } from '../support/light-path.ts';
import { seedAliceAndBob, seedGrant } from '../support/seed.ts';

const TOKEN = '/auth/oauth/token';
const ALICE = 'alice.localhost:3000';
const FORM = 'application/x-www-form-urlencoded';
const SECRET = 'the-confidential-client-secret';

let app: TestApp;
let lines: LogLine[];
let did: string;
let publicClient: string;
let confidentialClient: string;

beforeAll(async () => {
  ({ app, lines } = await started({ TRUST_PROXY: 'loopback' }));
  did = (await seedAliceAndBob(app.ctx, 'unused-client')).alice.did;
  publicClient = (
    await app.ctx.store.repos.clients.insertRegistered(
      { client_name: 'Public', redirect_uris: ['http://localhost:54321/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
      null,
    )
  ).clientId;
  confidentialClient = (
    await app.ctx.store.repos.clients.insertRegistered(
      { client_name: 'Confidential', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
      sha256Hex(SECRET),
    )
  ).clientId;
});
afterAll(async () => {
  lightPathSwitch.enabled = true;
  await app?.close();
});

const form = (body: string, headers: Record<string, string> = {}): Shot => ({ method: 'POST', path: TOKEN, headers: { 'content-type': FORM, ...headers }, body });
const freshRefreshToken = async (clientId: string): Promise<string> => (await seedGrant(app.ctx, app.config, { did, slug: 'alice', clientId })).refreshToken;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** Two token answers: the same headers and the same fields, each with its own tokens. */
function sameIssuance(light: Answer, express: Answer): void {
  expect(light.status, light.body).toBe(200);
  expect(express.status, express.body).toBe(200);
  const fields = (a: Answer) => {
    const { access_token, refresh_token, ...rest } = JSON.parse(a.body) as Record<string, unknown>;
    expect(access_token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(refresh_token).toEqual(expect.any(String));
    return rest;
  };
  expect(fields(light)).toEqual(fields(express));
  const headers = (a: Answer) => ({ ...a.headers, 'content-length': undefined });
  expect(headers(light)).toEqual(headers(express));
  expect(light.names).toEqual(express.names);
}

describe('POST /auth/oauth/token: the light path answers as the Express chain does', () => {
  it('a refresh by a public client: taken, the same 200 (CORS, no-store, JSON) and the same log line and metric', async () => {
    const r = await both(app, lines, async () => form(`grant_type=refresh_token&client_id=${encodeURIComponent(publicClient)}&refresh_token=${await freshRefreshToken(publicClient)}`), sameIssuance);
    expect(r.light).toBe(true);
    expect(r.answer.headers['cache-control']).toBe('no-store');
    expect(r.answer.headers['access-control-allow-origin']).toBe('*');
    expect(r.answer.headers['access-control-expose-headers']).toBe('WWW-Authenticate, Retry-After');
    expect(r.answer.headers['content-security-policy']).toBeDefined();
    expect(r.answer.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('a refresh by a confidential client with Basic credentials, charset=UTF-8 and a byte order mark: taken, the same 200', async () => {
    const r = await both(
      app,
      lines,
      async () => ({
        ...form(`\uFEFFgrant_type=refresh_token&refresh_token=${await freshRefreshToken(confidentialClient)}`, { 'content-type': `${FORM}; charset=UTF-8`, authorization: basic(confidentialClient, SECRET) }),
      }),
      sameIssuance,
    );
    expect(r.light).toBe(true);
  });

  const refusals = (): [string, Shot][] => [
    ['an unsupported grant type (400)', form(`grant_type=password&client_id=${publicClient}`)],
    ['a parameter given twice (400)', form(`grant_type=refresh_token&grant_type=refresh_token&client_id=${publicClient}&refresh_token=x`)],
    ['a key with brackets, given beside the plain one (400: the key is kept as it is)', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token[]=x`)],
    ['an unknown refresh token (400 invalid_grant)', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=unknown`)],
    ['an unknown code (400 invalid_grant)', form(`grant_type=authorization_code&client_id=${publicClient}&code=nope&code_verifier=${'v'.repeat(43)}&redirect_uri=http%3A%2F%2Flocalhost%3A54321%2Fcallback`)],
    ['an unknown client (401 invalid_client)', form('grant_type=refresh_token&client_id=nobody&refresh_token=x')],
    ['no client at all (401)', form('grant_type=refresh_token')],
    ['a wrong Basic secret (401)', form('grant_type=refresh_token&refresh_token=x', { authorization: basic(confidentialClient, 'wrong') })],
    ['Basic and client_secret both (400)', form(`grant_type=refresh_token&refresh_token=x&client_secret=${SECRET}`, { authorization: basic(confidentialClient, SECRET) })],
    ['an empty body (Content-Length: 0)', form('')],
    ['bad percent-encoding (kept as it is)', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=%ZZ%E0%A4`)],
    ['bytes that are not UTF-8', { ...form(''), body: Buffer.concat([Buffer.from(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=`), Buffer.from([0xc3, 0x28, 0xff])]) }],
    ['31 parameters (413)', form(Array.from({ length: 31 }, (_, i) => `p${i}=1`).join('&'))],
    ['30 parameters (within the limit: 401, no client)', form(Array.from({ length: 30 }, (_, i) => `p${i}=1`).join('&'))],
    ['a client_assertion that is not a JWT (401)', form(`grant_type=refresh_token&refresh_token=x&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=nope`)],
    ['__proto__ as a key', form(`__proto__=x&grant_type=refresh_token&client_id=${publicClient}&refresh_token=x`)],
    ['the media type in upper case', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=x`, { 'content-type': 'APPLICATION/X-WWW-FORM-URLENCODED; CHARSET=UTF-8' })],
    ['a body of exactly 16,384 bytes (the limit)', form(`grant_type=refresh_token&pad=${'x'.repeat(16_384 - 'grant_type=refresh_token&pad='.length)}`)],
    ['X-Forwarded-For from the trusted proxy', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=x`, { 'x-forwarded-for': '203.0.113.9' })],
    [
      'a body sent in pieces, cutting the byte order mark and a two-byte character',
      { ...form(''), body: Buffer.from(`\uFEFFgrant_type=refresh_token&client_id=${publicClient}&refresh_token=caf\u00e9`), split: [1, 2, 60, `\uFEFFgrant_type=refresh_token&client_id=${publicClient}&refresh_token=caf`.length + 3 + 1] },
    ],
  ];

  it.each(refusals())('%s: taken, the same answer', async (_name, shot) => {
    const r = await both(app, lines, shot);
    expect(r.light).toBe(true);
    expect(r.answer.status).toBeGreaterThanOrEqual(400);
  });

  const leftToExpress = (): [string, Shot][] => [
    ['a wiki host (404)', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=x`, { host: ALICE })],
    ['a forged X-Forwarded-Host (400)', form('grant_type=refresh_token', { 'x-forwarded-host': ALICE })],
    ['a trailing slash', { ...form('grant_type=refresh_token'), path: `${TOKEN}/` }],
    ['another case', { ...form('grant_type=refresh_token'), path: TOKEN.toUpperCase() }],
    ['a query string', { ...form('grant_type=refresh_token'), path: `${TOKEN}?x=1` }],
    ['GET', { method: 'GET', path: TOKEN }],
    ['OPTIONS (CORS preflight)', { method: 'OPTIONS', path: TOKEN, headers: { origin: 'https://inspector.example', 'access-control-request-method': 'POST' } }],
    ['JSON (400)', form('{"grant_type":"refresh_token"}', { 'content-type': 'application/json' })],
    ['no Content-Type', { method: 'POST', path: TOKEN, body: 'grant_type=refresh_token' }],
    ['charset=ISO-8859-1', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=%E9`, { 'content-type': `${FORM}; charset=ISO-8859-1` })],
    ['charset=UTF-16 (415)', form('grant_type=refresh_token', { 'content-type': `${FORM}; charset=UTF-16` })],
    ['Content-Encoding: gzip that is not gzip (400)', form('grant_type=refresh_token', { 'content-encoding': 'gzip' })],
    ['chunked (no Content-Length)', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=x`, { 'transfer-encoding': 'chunked' })],
    ['a body over 16 KiB (413)', form(`grant_type=refresh_token&pad=${'x'.repeat(17_000)}`)],
    ['a body of 16,385 bytes (413)', form(`grant_type=refresh_token&pad=${'x'.repeat(16_385 - 'grant_type=refresh_token&pad='.length)}`)],
    ['a space inside the charset (415)', form('grant_type=refresh_token', { 'content-type': `${FORM}; charset=utf -8` })],
    ['a space inside the media type (400)', form('grant_type=refresh_token', { 'content-type': 'application /x-www-form-urlencoded' })],
    ['a quoted charset', form(`grant_type=refresh_token&client_id=${publicClient}&refresh_token=x`, { 'content-type': `${FORM}; charset="utf-8"` })],
    ['an oversized Authorization (431)', form('grant_type=refresh_token', { authorization: `Basic ${'x'.repeat(5000)}` })],
  ];

  it.each(leftToExpress())('%s: left to Express, the same answer', async (_name, shot) => {
    const r = await both(app, lines, shot);
    expect(r.light).toBe(false);
  });
});

describe('a client that goes away in the middle of its body', () => {
  /**
   * Headers promising 100 bytes and 10 of them; once the app has the request (its 'request' event
   * has run the handlers), the connection closed. Returns the log lines it leaves, once its
   * "request aborted" line is there.
   */
  async function abandon(): Promise<string[]> {
    const before = lines.length;
    const server = app.server!;
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(app.port, '127.0.0.1', () => {
        server.once('request', () => setImmediate(() => socket.destroy()));
        socket.write(`POST ${TOKEN} HTTP/1.1\r\nHost: localhost:3000\r\nContent-Type: ${FORM}\r\nContent-Length: 100\r\n\r\ngrant_type`);
      });
      socket.once('close', () => resolve());
      socket.on('error', reject);
    });
    await vi.waitFor(() => expect(lines.slice(before).some((l) => l.msg === 'request aborted')).toBe(true), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 50)); // anything logged after it
    return lines.slice(before).map((l) => `${l.level} ${l.msg} ${l.res?.statusCode ?? ''}`);
  }

  it('is logged the same way on both paths, once, and the light path took it', async () => {
    lightPathSwitch.enabled = true;
    const answered = lightPathSwitch.answered;
    const light = await abandon();
    expect(lightPathSwitch.answered).toBe(answered + 1);
    lightPathSwitch.enabled = false;
    const express = await abandon();
    lightPathSwitch.enabled = true;
    expect(light).toEqual(express);
    expect(light.filter((l) => l.includes('request aborted'))).toHaveLength(1);
  });
});

describe('the token endpoint light path and the address budget', () => {
  it('both paths spend one budget; once spent, the light path leaves the request to Express, which refuses it (429)', async () => {
    const limited = await started({ RATE_LIMIT_TOKEN_PER_MINUTE: '3' });
    try {
      const shot = form('grant_type=refresh_token&client_id=nobody&refresh_token=x');
      lightPathSwitch.enabled = true;
      expect((await send(limited.app.port, shot)).status).toBe(401);
      lightPathSwitch.enabled = false;
      expect((await send(limited.app.port, shot)).status).toBe(401);
      lightPathSwitch.enabled = true;
      const before = lightPathSwitch.answered;
      expect((await send(limited.app.port, shot)).status).toBe(401);
      expect(lightPathSwitch.answered).toBe(before + 1);
      const r = await both(limited.app, limited.lines, shot);
      expect(r.light).toBe(false);
      expect(r.answer.status).toBe(429);
      expect(r.answer.headers['retry-after']).toMatch(/^\d+$/);
    } finally {
      lightPathSwitch.enabled = true;
      await limited.app.close();
    }
  });
});
