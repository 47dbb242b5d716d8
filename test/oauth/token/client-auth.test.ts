// Client authentication at the token and revocation endpoints (RFC 6749 §2.3.1, OAuth 2.1 §2.4):
// client_secret_basic, client_secret_post and none, each only for clients that registered it;
// every failure is 401 invalid_client with WWW-Authenticate (two methods at once: 400).
import express, { Router } from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../../src/db/open.ts';
import { sha256Hex } from '../../../src/lib/secrets.ts';
import type { ClientMetadata, TokenEndpointAuthMethod } from '../../../src/oauth/clients/client.ts';
import { authenticateClient } from '../../../src/oauth/token/client-auth.ts';
import { apiResponses } from '../../../src/web/error-handler.ts';
import { appWith } from '../clients/test-context.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';

const SECRET = 'p@ss:w+rd/%20é';

let t: TestApp;
let app: express.Express;
let basicClient: string;
let postClient: string;
let publicClient: string;

const metadata = (method: TokenEndpointAuthMethod): ClientMetadata => ({
  redirect_uris: ['https://app.example/cb'],
  token_endpoint_auth_method: method,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
});

beforeEach(async () => {
  t = await startTestApp({}, { listen: false });
  basicClient = (await t.ctx.store.repos.clients.insertRegistered(metadata('client_secret_basic'), sha256Hex(SECRET))).clientId;
  postClient = (await t.ctx.store.repos.clients.insertRegistered(metadata('client_secret_post'), sha256Hex(SECRET))).clientId;
  publicClient = (await t.ctx.store.repos.clients.insertRegistered(metadata('none'), null)).clientId;
  const router = Router().post(
    '/token',
    apiResponses,
    express.urlencoded({ extended: false }),
    async (req, res) => {
      const client = await authenticateClient(t.ctx, req);
      res.json({ client_id: client.clientId, method: client.metadata.token_endpoint_auth_method });
    },
  );
  app = appWith(t.ctx, router);
});
afterEach(() => t.close());

/** RFC 6749 §2.3.1: form-urlencode each part, then Basic (RFC 7617). */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;

const post = (form: Record<string, string | string[]>, authorization?: string) => {
  const req = request(app).post('/token').type('form');
  if (authorization !== undefined) req.set('Authorization', authorization);
  const pairs = Object.entries(form).flatMap(([k, v]): [string, string][] => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]));
  return req.send(new URLSearchParams(pairs).toString());
};

const expectInvalidClient = (res: request.Response) => {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
  expect(res.headers['www-authenticate']).toMatch(/^Basic /);
  expect(res.headers['cache-control']).toBe('no-store');
};

describe('each method, for the client that registered it', () => {
  it('client_secret_basic with a form-urlencoded secret', async () => {
    const res = await post({ grant_type: 'authorization_code' }, basic(basicClient, SECRET));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ client_id: basicClient, method: 'client_secret_basic' });
  });

  it('client_secret_basic with client_id repeated (the same) in the body', async () => {
    const res = await post({ client_id: basicClient }, basic(basicClient, SECRET));
    expect(res.status).toBe(200);
  });

  it('client_secret_post', async () => {
    const res = await post({ client_id: postClient, client_secret: SECRET });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ client_id: postClient, method: 'client_secret_post' });
  });

  it('none', async () => {
    const res = await post({ client_id: publicClient });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ client_id: publicClient, method: 'none' });
  });

  it('none for a client_id metadata document (resolved through the client resolver)', async () => {
    const url = 'https://claude.ai/oauth/claude-code-client-metadata';
    (await t.ctx.store.repos.clients.upsertDocument(url, metadata('none'), nowSeconds(), nowSeconds() + 3600));
    const res = await post({ client_id: url });
    expect(res.status).toBe(200);
    expect(res.body.client_id).toBe(url);
  });
});

describe('failures → 401 invalid_client', () => {
  it('unknown client, whichever method', async () => {
    expectInvalidClient(await post({ client_id: 'rc_unknown' }));
    expectInvalidClient(await post({ client_id: 'rc_unknown', client_secret: SECRET }));
    expectInvalidClient(await post({}, basic('rc_unknown', SECRET)));
    expectInvalidClient(await post({ client_id: 'https://unreachable.invalid/client.json' }));
  });

  it('wrong secret', async () => {
    expectInvalidClient(await post({}, basic(basicClient, 'wrong')));
    expectInvalidClient(await post({ client_id: postClient, client_secret: 'wrong' }));
    expectInvalidClient(await post({ client_id: postClient, client_secret: `${SECRET}x` }));
    // The parts are form-urlencoded (RFC 6749 §2.3.1): sent raw, "+" and "%20" decode to spaces.
    expectInvalidClient(await post({}, `Basic ${Buffer.from(`${basicClient}:${SECRET}`).toString('base64')}`));
  });

  it('a method other than the registered one', async () => {
    expectInvalidClient(await post({ client_id: basicClient, client_secret: SECRET })); // post for a basic client
    expectInvalidClient(await post({}, basic(postClient, SECRET))); // basic for a post client
    expectInvalidClient(await post({ client_id: postClient })); // none for a confidential client
    expectInvalidClient(await post({ client_id: publicClient, client_secret: 'anything' })); // a secret for a public client
    expectInvalidClient(await post({}, basic(publicClient, '')));
  });

  it('no client identification at all, or a secret without an id', async () => {
    expectInvalidClient(await post({ grant_type: 'authorization_code' }));
    expectInvalidClient(await post({ client_secret: SECRET }));
  });

  it('malformed Basic credentials', async () => {
    expectInvalidClient(await post({}, 'Basic !!!not-base64'));
    expectInvalidClient(await post({ client_id: publicClient }, 'Basic'));
    expectInvalidClient(await post({}, `Basic ${Buffer.from('no-colon').toString('base64')}`));
    expectInvalidClient(await post({}, `Basic ${Buffer.from(`:${SECRET}`).toString('base64')}`));
    expectInvalidClient(await post({}, `Basic ${Buffer.from(`${basicClient}:%E0%A4%A`).toString('base64')}`));
  });
});

describe('one method per request → 400 invalid_request', () => {
  it('Basic and client_secret in the body together', async () => {
    const res = await post({ client_id: basicClient, client_secret: SECRET }, basic(basicClient, SECRET));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('a body client_id different from the Basic one', async () => {
    const res = await post({ client_id: postClient }, basic(basicClient, SECRET));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('client_id given twice', async () => {
    const res = await post({ client_id: [publicClient, postClient] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });
});
