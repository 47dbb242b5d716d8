// Issue 9 finding 11, "the wiki identity token's contract": a wiki that checked only the signature
// would accept an MCP access token as a browser session. Each token kind has its own `typ`, its own
// audience and its own key set, and neither verifier trusts the other's keys:
//  - the documented wiki-side check (test/support/wiki-identity-check.ts, quoted in the README)
//    refuses access tokens, even re-typed ones signed with an access key;
//  - the access-token verifier (/auth/verify) refuses identity tokens, even with an MCP audience;
//  - the AS metadata's jwks_uri holds access keys only; the identity JWKS holds identity keys only.
import fs from 'node:fs';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIdentityToken } from '../../src/accounts/identity-token.ts';
import type { PlatformKeys } from '../../src/config/keys.ts';
import { signAccessToken, verifyAccessTokenJwt } from '../../src/oauth/tokens/access-token.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createWikiIdentityCheck } from '../support/wiki-identity-check.ts';
import { loopbackFetch } from '../support/loopback-fetch.ts';

let app: TestApp;
let whoIsThis: ReturnType<typeof createWikiIdentityCheck>;
const alice = { did: 'did:plc:alicetokenkinds', handle: 'alice.test', username: 'alicetk' };
let mcpUrl: string;

beforeAll(async () => {
  app = await startTestApp();
  await app.ctx.store.repos.users.insertWithFirstWiki({ ...alice, displayName: null });
  mcpUrl = `http://${alice.username}.localhost:${app.port}/mcp`;
  whoIsThis = createWikiIdentityCheck(app.url);
});
afterAll(async () => {
  await app?.close();
});

const accessDeps = () => ({ config: app.ctx.config, keys: app.ctx.platformKeys });
const accessToken = () =>
  signAccessToken(accessDeps(), { did: alice.did, resource: mcpUrl, clientId: 'https://client.example/meta.json', scope: 'wiki:read', grantId: 'g1' });

/** A JWT with any header/claims, signed by the current key of `keys`. */
function craft(keys: PlatformKeys, typ: string, audience: string, extra: Record<string, unknown> = {}) {
  const key = keys.current;
  return new jose.SignJWT({ handle: alice.handle, username: alice.username, client_id: 'c', scope: 'wiki:read', gid: 'g1', ...extra })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ })
    .setIssuer(app.url)
    .setAudience(audience)
    .setSubject(alice.did)
    .setJti('j')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(key.privateKey);
}

describe('the wiki-side identity check (as documented)', () => {
  it('accepts an identity token the apex minted (control)', async () => {
    const token = await signIdentityToken(app.ctx, alice);
    expect(await whoIsThis(token)).toEqual({ did: alice.did, handle: alice.handle, username: alice.username });
  });

  it('refuses an MCP access token', async () => {
    expect(await whoIsThis((await accessToken()).token)).toBeUndefined();
  });

  it('refuses a token typed and addressed as an identity but signed with an access-token key', async () => {
    expect(await whoIsThis(await craft(app.ctx.platformKeys, 'wiki-id+jwt', `${app.url}/wikis`))).toBeUndefined();
  });

  it('refuses an identity-key token of another typ or audience', async () => {
    expect(await whoIsThis(await craft(app.ctx.identityKeys, 'at+jwt', `${app.url}/wikis`))).toBeUndefined();
    expect(await whoIsThis(await craft(app.ctx.identityKeys, 'wiki-id+jwt', mcpUrl))).toBeUndefined();
  });
});

describe('the access-token verifier', () => {
  it('refuses an identity token, at /auth/verify and in the verifier', async () => {
    const identity = await signIdentityToken(app.ctx, alice);
    expect(await verifyAccessTokenJwt(accessDeps(), identity, undefined)).toBeUndefined();
    // Caddy keeps the wiki's Host on the forward_auth request; the app decides the wiki from it.
    const res = await loopbackFetch(app.port)(`http://${alice.username}.localhost:${app.port}/auth/verify`, {
      headers: { Authorization: `Bearer ${identity}` },
    });
    expect(res.status).toBe(401);
  });

  it('refuses an access-shaped token (at+jwt, MCP audience) signed with an identity key', async () => {
    const forged = await craft(app.ctx.identityKeys, 'at+jwt', mcpUrl);
    expect(await verifyAccessTokenJwt(accessDeps(), forged, mcpUrl)).toBeUndefined();
    // Control: the same token signed with the access key verifies.
    expect(await verifyAccessTokenJwt(accessDeps(), await craft(app.ctx.platformKeys, 'at+jwt', mcpUrl), mcpUrl)).toBeDefined();
  });
});

describe('published keys', () => {
  it('jwks_uri in the AS metadata holds the access-token keys only; the identity JWKS the identity keys only', async () => {
    const metadata = (await (await fetch(`${app.url}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string };
    const accessJwks = (await (await fetch(metadata.jwks_uri)).json()) as { keys: jose.JWK[] };
    const identityJwks = (await (await fetch(`${app.url}/auth/wiki-identity/jwks.json`)).json()) as { keys: jose.JWK[] };
    const accessKids = app.ctx.platformKeys.all.map((k) => k.kid);
    const identityKids = app.ctx.identityKeys.all.map((k) => k.kid);
    expect(accessJwks.keys.map((k) => k.kid)).toEqual(accessKids);
    expect(identityJwks.keys.map((k) => k.kid)).toEqual(identityKids);
    expect(accessKids.filter((kid) => identityKids.includes(kid))).toEqual([]);
    for (const key of [...accessJwks.keys, ...identityJwks.keys]) expect(key).not.toHaveProperty('d');
  });
});

describe('the README documents the same check', () => {
  it('quotes test/support/wiki-identity-check.ts verbatim', () => {
    const source = fs.readFileSync(new URL('../support/wiki-identity-check.ts', import.meta.url), 'utf8');
    const example = source.split('// --- README example begin ---\n')[1]!.split('// --- README example end ---')[0]!;
    const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(example.length).toBeGreaterThan(500);
    expect(readme).toContain(example);
  });
});
