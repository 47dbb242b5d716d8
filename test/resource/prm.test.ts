// RFC 9728 protected resource metadata on wiki hosts, at the path-suffixed and the root well-known URL.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protectedResourceMetadata, resourceMetadataUrl } from '../../src/resource/prm.ts';
import { ALICE_HOST, ALICE_MCP, ALICE_PRM, createResourceFixture, ISSUER, type ResourceFixture } from './support.ts';

let f: ResourceFixture;
beforeAll(async () => {
  f = await createResourceFixture();
});
afterAll(() => f.close());

const EXPECTED = {
  resource: ALICE_MCP,
  authorization_servers: [ISSUER],
  scopes_supported: ['wiki:read', 'wiki:write'],
  bearer_methods_supported: ['header'],
  resource_name: 'alice wiki',
};

describe.each(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'])('GET %s', (path) => {
  it('serves the metadata: resource = the MCP URL, authorization_servers = [issuer] exactly', async () => {
    const res = await request(f.app).get(path).set('Host', ALICE_HOST).set('Origin', 'https://claude.ai');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.body).toEqual(EXPECTED);
    expect(res.body.authorization_servers[0]).toBe(f.ctx.config.publicUrl);
  });

  it('answers a CORS preflight', async () => {
    const res = await request(f.app)
      .options(path)
      .set('Host', ALICE_HOST)
      .set('Origin', 'https://claude.ai')
      .set('Access-Control-Request-Method', 'GET');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toContain('GET');
  });

  it('404 JSON for a wiki that does not exist, CORS-readable', async () => {
    const res = await request(f.app).get(path).set('Host', 'nobody.localhost:3000').set('Accept', 'text/html');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.body.error).toBe('not_found');
  });

  it('is not served on the apex host', async () => {
    const res = await request(f.app).get(path).set('Host', 'localhost:3000');
    expect(res.status).toBe(404);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('a wiki host names itself case-insensitively', () => {
  it('ALICE.localhost:3000 serves the lower-case resource', async () => {
    const res = await request(f.app).get('/.well-known/oauth-protected-resource/mcp').set('Host', 'ALICE.localhost:3000');
    expect(res.status).toBe(200);
    expect(res.body.resource).toBe(ALICE_MCP);
  });
});

describe('protectedResourceMetadata / resourceMetadataUrl', () => {
  it('production URLs', () => {
    const config = { scheme: 'https:' as const, apexHost: 'wiki.example', publicUrl: 'https://wiki.example' };
    expect(resourceMetadataUrl(config, 'alice')).toBe('https://alice.wiki.example/.well-known/oauth-protected-resource/mcp');
    expect(protectedResourceMetadata(config, 'alice')).toEqual({
      ...EXPECTED,
      resource: 'https://alice.wiki.example/mcp',
      authorization_servers: ['https://wiki.example'],
    });
  });

  it('dev URL used in challenges', () => {
    expect(resourceMetadataUrl(f.ctx.config, 'alice')).toBe(ALICE_PRM);
  });
});
