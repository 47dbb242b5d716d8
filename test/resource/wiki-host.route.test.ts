// What a wiki host answers besides metadata and MCP: the OAuth aliases, CORS, 404s, and passing
// every other host through.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE_HOST, createResourceFixture, INITIALIZE, ISSUER, MCP_POST_HEADERS, type ResourceFixture } from './support.ts';

let f: ResourceFixture;
beforeAll(async () => {
  f = await createResourceFixture();
});
afterAll(() => f.close());

describe('OAuth endpoints built on the MCP origin', () => {
  it('GET /authorize redirects to the issuer’s authorization endpoint with the query unchanged', async () => {
    const query = '?response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback&scope=wiki%3Aread+wiki%3Awrite&state=x%2By&code_challenge=c&code_challenge_method=S256&resource=http%3A%2F%2Falice.localhost%3A3000%2Fmcp';
    const res = await request(f.app).get(`/authorize${query}`).set('Host', ALICE_HOST);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${ISSUER}/auth/oauth/authorize${query}`);
  });

  it('GET /authorize without a query', async () => {
    const res = await request(f.app).get('/authorize').set('Host', ALICE_HOST);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${ISSUER}/auth/oauth/authorize`);
  });

  it('POST /token and POST /register run the issuer’s handlers', async () => {
    const token = await request(f.app).post('/token').set('Host', ALICE_HOST).type('form').send('grant_type=refresh_token');
    expect(token.body).toEqual({ stub: 'token' });
    const register = await request(f.app).post('/register').set('Host', ALICE_HOST).send({ redirect_uris: [] });
    expect(register.body).toEqual({ stub: 'register' });
  });
});

describe('CORS on /mcp', () => {
  it('answers the preflight without a token', async () => {
    const res = await request(f.app)
      .options('/mcp')
      .set('Host', ALICE_HOST)
      .set('Origin', 'https://inspector.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type, mcp-protocol-version');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
    for (const h of ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id', 'last-event-id']) expect(allowed).toContain(h);
  });

  it('exposes WWW-Authenticate on the 401', async () => {
    const res = await request(f.app).post('/mcp').set('Host', ALICE_HOST).set('Origin', 'https://inspector.example').set(MCP_POST_HEADERS).send(JSON.stringify(INITIALIZE));
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase();
    expect(exposed).toContain('www-authenticate');
    expect(exposed).toContain('mcp-session-id');
  });
});

describe('anything else on a wiki host is a 404', () => {
  it('JSON on API-ish paths', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/mcp/tools', '/token']) {
      const res = await request(f.app).get(path).set('Host', ALICE_HOST).set('Accept', 'text/html');
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toMatch(/^application\/json/);
    }
  });

  it('the error page elsewhere, for browsers', async () => {
    const res = await request(f.app).get('/').set('Host', ALICE_HOST).set('Accept', 'text/html');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
  });

  it('JSON when the client asks for JSON', async () => {
    const res = await request(f.app).get('/some/page').set('Host', ALICE_HOST).set('Accept', 'application/json');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});

describe('other hosts pass through', () => {
  it('the apex host reaches the next routers', async () => {
    const res = await request(f.app).get('/authorize').set('Host', 'localhost:3000');
    expect(res.status).toBe(404);
    expect(res.headers.location).toBeUndefined();
  });

  it('a host of another domain is no wiki host', async () => {
    const res = await request(f.app).get('/.well-known/oauth-protected-resource/mcp').set('Host', 'alice.evil.example');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
  });

  it('/auth/verify on a wiki host (forward_auth keeps the Host) is left to verifyRoutes', async () => {
    const res = await request(f.app).get('/auth/verify').set('Host', ALICE_HOST);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('resource_metadata=');
  });
});
