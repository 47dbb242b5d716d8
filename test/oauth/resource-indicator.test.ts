// RFC 8707 §2 — the one normal form of a resource indicator, and that /authorize's resource check
// and /token's resource-param both use it (issue 10 item 6).
import { describe, expect, it } from 'vitest';
import { checkResource } from '../../src/oauth/authorize/checks/resource.ts';
import { normalizeResource, sameResource } from '../../src/oauth/resource-indicator.ts';
import { checkResourceMatches } from '../../src/oauth/token/resource-param.ts';
import type { AppContext } from '../../src/context.ts';

describe('normalizeResource', () => {
  it.each([
    ['HTTPS://Alice.Example.org:443/mcp/', 'https://alice.example.org/mcp'],
    ['https://alice.example.org/mcp', 'https://alice.example.org/mcp'],
    ['https://alice.example.org/mcp/', 'https://alice.example.org/mcp'],
    ['https://ALICE.EXAMPLE.ORG/mcp', 'https://alice.example.org/mcp'],
    ['http://alice.localhost:80/mcp', 'http://alice.localhost/mcp'],
    ['http://alice.localhost:3000/mcp/', 'http://alice.localhost:3000/mcp'],
    ['https://alice.example.org:8443/mcp', 'https://alice.example.org:8443/mcp'],
    ['https://alice.example.org', 'https://alice.example.org'],
    ['https://alice.example.org/', 'https://alice.example.org'],
    // The path's case is significant (RFC 3986 §6.2.2.1): only scheme and host fold.
    ['https://alice.example.org/MCP', 'https://alice.example.org/MCP'],
    ['https://alice.example.org/mcp?x=1', 'https://alice.example.org/mcp?x=1'],
  ])('%s → %s', (input, normal) => {
    expect(normalizeResource(input)).toBe(normal);
  });

  it.each(['mcp', '/mcp', 'https://alice.example.org/mcp#frag', 'https://alice.example.org/mcp#', ''])('%j is not a resource indicator', (input) => {
    expect(normalizeResource(input)).toBeUndefined();
  });

  it('sameResource: the odd spelling equals the canonical one, another port or path does not', () => {
    expect(sameResource('HTTPS://Alice.Example.org:443/mcp/', 'https://alice.example.org/mcp')).toBe(true);
    expect(sameResource('https://alice.example.org:444/mcp', 'https://alice.example.org/mcp')).toBe(false);
    expect(sameResource('https://alice.example.org/mcp/x', 'https://alice.example.org/mcp')).toBe(false);
    expect(sameResource('http://alice.example.org/mcp', 'https://alice.example.org/mcp')).toBe(false);
    expect(sameResource('nonsense', 'nonsense')).toBe(false);
  });
});

describe('/authorize and /token agree on it (a production-style https deployment)', () => {
  const ctx = {
    config: { scheme: 'https:', apexHost: 'example.org' },
    store: { repos: { wikis: { findBySlug: async (slug: string) => (slug === 'alice' ? { slug, ownerDid: 'did:plc:alice', createdAt: 0 } : undefined) } } },
  } as unknown as Pick<AppContext, 'config' | 'store'>;

  it('checkResource reads HTTPS://Alice.Example.org:443/mcp/ as the wiki alice', async () => {
    expect(await checkResource(ctx, { resource: 'HTTPS://Alice.Example.org:443/mcp/' })).toBe('alice');
    expect(await checkResource(ctx, { resource: 'https://alice.example.org/mcp' })).toBe('alice');
  });

  it('checkResource refuses other ports, paths, schemes and fragments', async () => {
    for (const resource of ['https://alice.example.org:8443/mcp', 'https://alice.example.org/mcp/x', 'http://alice.example.org/mcp', 'https://alice.example.org/mcp#x', 'https://bob.example.org/mcp']) {
      await expect(checkResource(ctx, { resource }), resource).rejects.toThrow(/not the MCP address of a wiki/);
    }
  });

  it('checkResourceMatches accepts the same spellings for the bound resource, and nothing else', () => {
    expect(() => checkResourceMatches('HTTPS://Alice.Example.org:443/mcp/', 'https://alice.example.org/mcp')).not.toThrow();
    expect(() => checkResourceMatches(undefined, 'https://alice.example.org/mcp')).not.toThrow();
    expect(() => checkResourceMatches('https://bob.example.org/mcp', 'https://alice.example.org/mcp')).toThrow(/This grant is for/);
  });
});
