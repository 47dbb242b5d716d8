// What every MCP client reads before it does anything (RFC 8414, RFC 9728, RFC 7517): the
// authorization server metadata at both well-known paths, its agreement with each wiki's protected
// resource metadata, the public keys, and well-known URLs that never answer with a 5xx or a page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import type { TestApp } from '../support/app.ts';
import { httpRequest, type HttpResponse } from '../support/pds.ts';
import { decodeJwt, startConformanceApp, wikiHost, wikiRequest } from './support.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { exchangeCode, obtainCode, registerClaudeCode } from '../support/oauth-flow.ts';

let app: TestApp;
let alice: Person;
let metadata: Record<string, unknown>;

beforeAll(async () => {
  app = await startConformanceApp();
  alice = await seedPerson(app, 'alice');
  const res = await httpRequest(`${app.url}/.well-known/oauth-authorization-server`);
  expect(res.status).toBe(200);
  metadata = JSON.parse(res.body) as Record<string, unknown>;
});

afterAll(async () => {
  await app?.close();
});

function json(res: HttpResponse): Record<string, unknown> {
  expect(res.headers['content-type'], res.body.slice(0, 200)).toMatch(/^application\/json/);
  return JSON.parse(res.body) as Record<string, unknown>;
}

describe('authorization server metadata (RFC 8414)', () => {
  it('is JSON, readable cross-origin, cacheable', async () => {
    const res = await httpRequest(`${app.url}/.well-known/oauth-authorization-server`, { headers: { origin: 'https://claude.ai' } });
    expect(res.status).toBe(200);
    json(res);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['cache-control']).toMatch(/public/);
  });

  it('issuer is PUBLIC_URL, a bare origin, byte-identical to authorization_servers[0] of every wiki PRM', async () => {
    expect(metadata.issuer).toBe(app.url);
    expect(new URL(String(metadata.issuer)).origin).toBe(metadata.issuer);
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const prm = json(await wikiRequest(app, wikiHost(app, 'alice'), path));
      expect(prm.resource).toBe(alice.mcpUrl);
      expect((prm.authorization_servers as string[])[0]).toBe(metadata.issuer);
    }
  });

  it('the issuer is where the metadata is served (RFC 8414 §3.3): {issuer}/.well-known/oauth-authorization-server', async () => {
    const res = await httpRequest(`${String(metadata.issuer)}/.well-known/oauth-authorization-server`);
    expect(json(res)).toEqual(metadata);
  });

  it('PKCE: S256 and nothing else (Claude.ai refuses to proceed without it; plain is never offered)', () => {
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
  });

  it('client authentication: none, client_secret_post, client_secret_basic and private_key_jwt (ES256, RS256), at the token and revocation endpoints', () => {
    const methods = ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt'];
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
    expect([...(metadata.token_endpoint_auth_methods_supported as string[])].sort()).toEqual(methods);
    expect([...(metadata.revocation_endpoint_auth_methods_supported as string[])].sort()).toEqual(methods);
  });

  it('the code flow only, with refresh tokens, the wiki scopes, iss in responses and client ID metadata documents', () => {
    expect(metadata).toMatchObject({
      response_types_supported: ['code'],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: true,
    });
    expect([...(metadata.grant_types_supported as string[])].sort()).toEqual(['authorization_code', 'refresh_token']);
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['wiki:read', 'wiki:write']));
    expect(metadata.grant_types_supported).not.toContain('implicit');
    expect(metadata.grant_types_supported).not.toContain('password');
  });

  it('every endpoint is an absolute URL on the issuer, and the registration endpoint registers', async () => {
    const issuer = String(metadata.issuer);
    expect(metadata).toMatchObject({
      authorization_endpoint: `${issuer}${OAUTH_PATHS.authorize}`,
      token_endpoint: `${issuer}${OAUTH_PATHS.token}`,
      registration_endpoint: `${issuer}${OAUTH_PATHS.register}`,
      revocation_endpoint: `${issuer}${OAUTH_PATHS.revoke}`,
      jwks_uri: `${issuer}${OAUTH_PATHS.jwks}`,
    });
    const registered = await httpRequest(String(metadata.registration_endpoint), {
      method: 'POST',
      json: { client_name: 'probe', redirect_uris: ['http://localhost:1/cb'], token_endpoint_auth_method: 'none' },
    });
    expect(registered.status).toBe(201);
    // The revocation endpoint exists (an unknown token is a 200 per RFC 7009 §2.2).
    const clientId = String(json(registered).client_id);
    const revoked = await httpRequest(String(metadata.revocation_endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'nothing', client_id: clientId }).toString(),
    });
    expect(revoked.status).toBe(200);
  });

  it('is served again, identical, at /.well-known/openid-configuration (the SDK tries it second)', async () => {
    const res = await httpRequest(`${app.url}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(json(res)).toEqual(metadata);
  });
});

describe('signing keys (RFC 7517, RFC 9068 §4)', () => {
  it('the JWKS holds public keys only, each with a kid', async () => {
    const res = await httpRequest(String(metadata.jwks_uri));
    expect(res.status).toBe(200);
    const { keys } = json(res) as { keys: Record<string, unknown>[] };
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      expect(key.kid).toEqual(expect.any(String));
      expect(key.kty).toBe('RSA');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) expect(key, `private member ${secret}`).not.toHaveProperty(secret);
    }
    expect(new Set(keys.map((k) => k.kid)).size).toBe(keys.length);
  });

  it("an access token's kid names a key of the JWKS", async () => {
    const client = await registerClaudeCode(app);
    const tokens = await exchangeCode(app, client, await obtainCode(client, alice, app));
    const { keys } = JSON.parse((await httpRequest(String(metadata.jwks_uri))).body) as { keys: { kid: string; alg?: string }[] };
    const { header } = decodeJwt(tokens.access_token);
    const key = keys.find((k) => k.kid === header.kid);
    expect(key, `kid ${String(header.kid)} not in the JWKS`).toBeDefined();
    expect(metadata.access_token_signing_alg_values_supported).toContain(header.alg);
  });
});

describe('well-known URLs never answer with a 5xx or an HTML page (MCP clients parse them as JSON)', () => {
  const paths = [
    '/.well-known/oauth-authorization-server',
    '/.well-known/openid-configuration',
    '/.well-known/jwks.json',
    '/.well-known/oauth-protected-resource',
    '/.well-known/oauth-protected-resource/mcp',
    '/.well-known/oauth-protected-resource/mcp/',
    '/.well-known/oauth-authorization-server/mcp',
    '/.well-known/openid-configuration/mcp',
    '/.well-known/no-such-document',
    '/.well-known/oauth-protected-resource/%E0%A4%A',
  ];
  const hosts = (): { name: string; host: string }[] => [
    { name: 'the issuer', host: `localhost:${app.port}` },
    { name: 'a wiki', host: wikiHost(app, 'alice') },
    { name: 'an unknown wiki', host: wikiHost(app, 'nosuchwiki') },
  ];

  it.each(['application/json', 'text/html,application/xhtml+xml,*/*;q=0.8', '*/*'])('with Accept: %s', async (accept) => {
    const problems: string[] = [];
    for (const { name, host } of hosts()) {
      for (const path of paths) {
        for (const method of ['GET', 'HEAD', 'POST']) {
          const res = await wikiRequest(app, host, path, { method, headers: { accept } });
          const type = String(res.headers['content-type']);
          // HEAD has no body, but its headers are those of the GET.
          if (res.status >= 500 || !type.startsWith('application/json')) problems.push(`${method} ${path} on ${name} → ${res.status} ${type}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('an unknown wiki: 404 JSON for its protected resource metadata, never a challenge or metadata', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await wikiRequest(app, wikiHost(app, 'nosuchwiki'), path);
      expect(res.status).toBe(404);
      expect(json(res)).toMatchObject({ error: 'not_found' });
    }
  });

  it('the issuer is not a protected resource: no PRM there (404 JSON)', async () => {
    const res = await httpRequest(`${app.url}/.well-known/oauth-protected-resource`);
    expect(res.status).toBe(404);
    json(res);
  });
});
