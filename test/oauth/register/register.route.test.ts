// RFC 7591 dynamic registration as Claude.ai and Claude Code do it: 201 with the metadata echoed,
// a secret only for confidential clients (stored hashed), registrations that survive a restart,
// and every refusal as invalid_redirect_uri / invalid_client_metadata JSON.
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/lib/secrets.ts';
import { REGISTRATION_PATH, registerRoutes } from '../../../src/oauth/register/register.route.ts';
import { appWith } from '../clients/test-context.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';

const CLAUDE_AI = {
  client_name: 'Claude',
  redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};

const CLAUDE_CODE = {
  client_name: 'Claude Code (wiki)',
  redirect_uris: ['http://localhost:54321/callback'],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  application_type: 'native',
  scope: 'wiki:read wiki:write offline_access',
};

let t: TestApp;
beforeEach(async () => {
  t = await startTestApp({}, { listen: false });
});
afterEach(() => t.close());

const register = (body: unknown, ctx = t.ctx) => request(appWith(ctx, registerRoutes(ctx))).post(REGISTRATION_PATH).send(body as object);

describe('successful registration', () => {
  it("registers Claude.ai's request: 201, metadata echoed, a secret that never expires, no-store", async () => {
    const res = await register({ ...CLAUDE_AI, unknown_field: 'dropped', client_uri: null });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      ...CLAUDE_AI,
      client_id: expect.stringMatching(/^rc_/),
      client_id_issued_at: expect.any(Number),
      client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      client_secret_expires_at: 0,
    });
    expect(Object.values(res.body as Record<string, unknown>)).not.toContain(null);
    expect(Math.abs((res.body as { client_id_issued_at: number }).client_id_issued_at - Date.now() / 1000)).toBeLessThan(5);
  });

  it("registers Claude Code's request: a public client gets no secret, scope without offline_access", async () => {
    const res = await register(CLAUDE_CODE);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      ...CLAUDE_CODE,
      scope: 'wiki:read wiki:write',
      client_id: expect.stringMatching(/^rc_/),
      client_id_issued_at: expect.any(Number),
    });
    expect(res.body).not.toHaveProperty('client_secret');
    expect(res.body).not.toHaveProperty('client_secret_expires_at');
  });

  it('applies the RFC 7591 defaults: client_secret_basic, both grants, code', async () => {
    const res = await register({ redirect_uris: ['https://app.example/cb'] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_secret: expect.any(String),
      client_secret_expires_at: 0,
    });
  });

  it('strips control and bidi characters from client_name', async () => {
    const res = await register({ ...CLAUDE_CODE, client_name: 'Evil\u202eedoC edualC\n' });
    expect(res.body.client_name).toBe('EviledoC edualC');
  });

  it('stores only the hash of the secret', async () => {
    const res = await register(CLAUDE_AI);
    const { client_id: clientId, client_secret: secret } = res.body as { client_id: string; client_secret: string };
    const row = t.ctx.sqlite!.db.prepare('SELECT * FROM oauth_clients WHERE client_id = ?').get(clientId) as Record<string, unknown>;
    expect(row.secret_hash).toBe(sha256Hex(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.kind).toBe('registered');
  });

  it('persists registrations across a restart on the same data directory', async () => {
    const res = await register(CLAUDE_AI);
    const { client_id: clientId } = res.body as { client_id: string };
    const ctx = await t.reopen();
    const client = await ctx.clientResolver.resolve(clientId);
    expect(client).toMatchObject({ clientId, kind: 'registered', metadata: { client_name: 'Claude', redirect_uris: CLAUDE_AI.redirect_uris } });
  });

  it('issues a new client_id for every registration', async () => {
    const a = await register(CLAUDE_CODE);
    const b = await register(CLAUDE_CODE);
    expect(a.body.client_id).not.toBe(b.body.client_id);
  });
});

describe('refusals', () => {
  it.each([
    ['missing redirect_uris', { client_name: 'x' }, 'invalid_redirect_uri'],
    ['empty redirect_uris', { redirect_uris: [] }, 'invalid_redirect_uri'],
    ['redirect_uris not a list', { redirect_uris: 'https://app.example/cb' }, 'invalid_redirect_uri'],
    ['http on a public host', { redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri'],
    ['a fragment', { redirect_uris: ['https://app.example/cb#x'] }, 'invalid_redirect_uri'],
    ['javascript:', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
    ['data:', { redirect_uris: ['data:text/html,x'] }, 'invalid_redirect_uri'],
    ['file:', { redirect_uris: ['file:///etc/passwd'] }, 'invalid_redirect_uri'],
    ['userinfo', { redirect_uris: ['https://a@app.example/cb'] }, 'invalid_redirect_uri'],
    ['a relative URI', { redirect_uris: ['/cb'] }, 'invalid_redirect_uri'],
    ['one bad among good', { redirect_uris: ['https://app.example/cb', 'http://evil.example/cb'] }, 'invalid_redirect_uri'],
    ['private_key_jwt without keys', { ...CLAUDE_AI, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
    ['client_secret_jwt (a method we cannot verify)', { ...CLAUDE_AI, token_endpoint_auth_method: 'client_secret_jwt' }, 'invalid_client_metadata'],
    ['a private-use scheme for a confidential client', { ...CLAUDE_AI, redirect_uris: ['cursor://anysphere.cursor-mcp/oauth/callback'] }, 'invalid_redirect_uri'],
    ['private_key_jwt with a private key in jwks', { ...CLAUDE_AI, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] } }, 'invalid_client_metadata'],
    ['private_key_jwt with an http jwks_uri', { ...CLAUDE_AI, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://app.example/jwks.json' }, 'invalid_client_metadata'],
    ['private_key_jwt with both jwks and jwks_uri', { ...CLAUDE_AI, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example/jwks.json', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] } }, 'invalid_client_metadata'],
    ['private_key_jwt signed with HS256', { ...CLAUDE_AI, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example/jwks.json', token_endpoint_auth_signing_alg: 'HS256' }, 'invalid_client_metadata'],
    ['implicit grant', { ...CLAUDE_AI, grant_types: ['implicit'] }, 'invalid_client_metadata'],
    ['no authorization_code grant', { ...CLAUDE_AI, grant_types: ['refresh_token'] }, 'invalid_client_metadata'],
    ['empty response types', { ...CLAUDE_AI, response_types: [] }, 'invalid_client_metadata'],
    ['a 201-character name', { ...CLAUDE_AI, client_name: 'x'.repeat(201) }, 'invalid_client_metadata'],
    ['a non-string name', { ...CLAUDE_AI, client_name: 42 }, 'invalid_client_metadata'],
    ['a JSON array body', [CLAUDE_AI], 'invalid_client_metadata'],
  ])('%s → 400 %s', async (_why, body, error) => {
    const res = await register(body);
    expect(res.status).toBe(400);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ error, error_description: expect.any(String) });
    expect(t.ctx.sqlite!.db.prepare('SELECT count(*) AS n FROM oauth_clients').get()).toEqual({ n: 0 });
  });

  it('a 200-character name is fine', async () => {
    expect((await register({ ...CLAUDE_AI, client_name: 'é'.repeat(200) })).status).toBe(201);
  });

  it('only the grant types, response types and scopes we support are granted (RFC 7591 §2: narrowed, not refused)', async () => {
    const res = await register({
      ...CLAUDE_AI,
      grant_types: ['authorization_code', 'client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'refresh_token'],
      response_types: ['code', 'token'],
      scope: 'openid email profile wiki:read claudeai offline_access',
      client_uri: 'http://app.example',
      logo_uri: 'javascript:alert(1)',
      application_type: 'desktop',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'wiki:read' });
    for (const dropped of ['client_uri', 'logo_uri', 'application_type']) expect(res.body).not.toHaveProperty(dropped);
    const stored = await t.ctx.clientResolver.resolve((res.body as { client_id: string }).client_id);
    expect(stored?.metadata).toMatchObject({ grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'wiki:read' });
  });

  it('scope values that are all unknown leave the client free to ask for every wiki scope', async () => {
    const res = await register({ ...CLAUDE_AI, scope: 'claudeai' });
    expect(res.status).toBe(201);
    expect(res.body).not.toHaveProperty('scope');
  });

  it('a public native client may register a private-use scheme (Cursor): no secret, exact URI kept', async () => {
    const res = await register({ ...CLAUDE_CODE, redirect_uris: ['cursor://anysphere.cursor-mcp/oauth/callback'] });
    expect(res.status).toBe(201);
    expect(res.body.redirect_uris).toEqual(['cursor://anysphere.cursor-mcp/oauth/callback']);
    expect(res.body).not.toHaveProperty('client_secret');
  });

  it('a private_key_jwt client with inline jwks: no secret, keys kept public-only', async () => {
    const key = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1', extra: 'dropped' };
    const res = await register({ ...CLAUDE_AI, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key] }, token_endpoint_auth_signing_alg: 'ES256' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256' });
    expect(res.body.jwks).toEqual({ keys: [{ kty: 'EC', crv: 'P-256', x: key.x, y: key.y, kid: 'k1' }] });
    expect(res.body).not.toHaveProperty('client_secret');
  });

  it('token_endpoint_auth_methods_supported: the strongest usable method is chosen', async () => {
    const withKeys = await register({
      ...CLAUDE_AI,
      token_endpoint_auth_method: 'none',
      token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
      jwks_uri: 'https://app.example/jwks.json',
    });
    expect(withKeys.body).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example/jwks.json' });
    const withoutKeys = await register({ ...CLAUDE_CODE, token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'] });
    expect(withoutKeys.body).toMatchObject({ token_endpoint_auth_method: 'none' });
    expect(withoutKeys.body).not.toHaveProperty('token_endpoint_auth_methods_supported');
  });

  it('a 200-character name is fine (again, with the narrowing above)', async () => {
    expect((await register({ ...CLAUDE_AI, client_name: 'é'.repeat(200) })).status).toBe(201);
  });

  it('a body that is not JSON → 400 invalid_client_metadata; malformed JSON → 400 invalid_request', async () => {
    const app = appWith(t.ctx, registerRoutes(t.ctx));
    const form = await request(app).post(REGISTRATION_PATH).type('form').send('redirect_uris=https://app.example/cb');
    expect(form.status).toBe(400);
    expect(form.body.error).toBe('invalid_client_metadata');
    const broken = await request(app).post(REGISTRATION_PATH).set('Content-Type', 'application/json').send('{"redirect_uris": [');
    expect(broken.status).toBe(400);
    expect(broken.body.error).toBe('invalid_request');
  });

  it('a large body → 413 JSON', async () => {
    const res = await register({ ...CLAUDE_AI, padding: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('invalid_request');
  });

  it('is rate limited per address (429 with Retry-After)', async () => {
    const limited = await startTestApp({ RATE_LIMIT_REGISTER_PER_MINUTE: '2' }, { listen: false });
    try {
      const app = appWith(limited.ctx, registerRoutes(limited.ctx));
      expect((await request(app).post(REGISTRATION_PATH).send(CLAUDE_CODE)).status).toBe(201);
      expect((await request(app).post(REGISTRATION_PATH).send(CLAUDE_CODE)).status).toBe(201);
      const third = await request(app).post(REGISTRATION_PATH).send(CLAUDE_CODE);
      expect(third.status).toBe(429);
      expect(third.headers['retry-after']).toBeDefined();
      expect(third.body.error).toBe('too_many_requests');
    } finally {
      limited.close();
    }
  });
});
