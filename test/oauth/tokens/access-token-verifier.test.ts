// The verified-token cache must never accept what a fresh verification would refuse.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig, type Config } from '../../../src/config/env.ts';
import { generatePrivateJwk, loadPlatformKeys, type PlatformKeys } from '../../../src/config/keys.ts';
import { CACHE_KEY_CHARS, createAccessTokenVerifier, signAccessToken } from '../../../src/oauth/tokens/access-token.ts';

const ALICE = 'http://alice.localhost:3000/mcp';
let config: Config;
let keys: PlatformKeys;
let dir: string;

const mint = () =>
  signAccessToken({ config, keys }, { did: 'did:plc:alice', resource: ALICE, clientId: 'c1', scope: 'wiki:read', grantId: 'g1' });

describe.each(['RS256', 'ES256'] as const)('createAccessTokenVerifier (%s)', (alg) => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verifier-'));
    config = parseConfig({ DATA_DIR: dir, ACCESS_TOKEN_TTL_SECONDS: '600', ACCESS_TOKEN_ALG: alg });
    keys = await loadPlatformKeys([await generatePrivateJwk(alg)], undefined, 'access', alg);
  });
  afterEach(() => {
    vi.useRealTimers();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers a repeated token from the cache with the same claims, and checks the audience every time', async () => {
    const verifier = createAccessTokenVerifier({ config, keys });
    const { token } = await mint();
    const first = await verifier.verify(token, ALICE);
    expect(first?.did).toBe('did:plc:alice');
    expect(await verifier.verify(token, ALICE)).toEqual(first);
    expect(await verifier.verify(token, 'http://bob.localhost:3000/mcp')).toBeUndefined();
  });

  it('stops accepting a cached token once it has expired (beyond the 30 s clock tolerance)', async () => {
    const verifier = createAccessTokenVerifier({ config, keys });
    const { token } = await mint();
    expect(await verifier.verify(token, ALICE)).toBeDefined();
    vi.useFakeTimers({ now: Date.now() + 700_000, toFake: ['Date'] });
    expect(await verifier.verify(token, ALICE)).toBeUndefined();
  });

  it('stops accepting a cached token once its signing key is withdrawn (keys reloaded in place)', async () => {
    const verifier = createAccessTokenVerifier({ config, keys });
    const { token } = await mint();
    expect(await verifier.verify(token, ALICE)).toBeDefined();
    Object.assign(keys, await loadPlatformKeys([await generatePrivateJwk(alg)], undefined, 'access', alg));
    expect(await verifier.verify(token, ALICE)).toBeUndefined();
  });

  it('a token that shares a cached token\'s key (its signature\'s end) but not the rest is verified afresh, and refused when forged', async () => {
    const verifier = createAccessTokenVerifier({ config, keys });
    const { token } = mint();
    expect(verifier.verify(token, ALICE)?.grantId).toBe('g1');
    // The attack: the cached token's signature on claims of the attacker's choosing (another grant, another wiki).
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = (changes: Record<string, unknown>) => `${header}.${Buffer.from(JSON.stringify({ ...claims, ...changes })).toString('base64url')}.${signature}`;
    expect(forged({ gid: 'g2' }).slice(-CACHE_KEY_CHARS)).toBe(token.slice(-CACHE_KEY_CHARS));
    expect(verifier.verify(forged({ gid: 'g2' }), ALICE)).toBeUndefined();
    expect(verifier.verify(forged({ aud: 'http://bob.localhost:3000/mcp' }), 'http://bob.localhost:3000/mcp')).toBeUndefined();
    // The genuine token is still answered, and still from the cache.
    expect(verifier.verify(token, ALICE)?.grantId).toBe('g1');
  });

  it('two tokens whose keys collide are both answered correctly, each verified on its own', async () => {
    const verifier = createAccessTokenVerifier({ config, keys });
    const a = mint().token;
    const b = mint().token;
    // Not a real collision (those are 2^-144): the same end spliced onto b, so b's key is a's. b no longer
    // verifies, and a must not be answered for it; a stays answered.
    const bWithAsEnd = b.slice(0, -CACHE_KEY_CHARS) + a.slice(-CACHE_KEY_CHARS);
    expect(verifier.verify(a, ALICE)).toBeDefined();
    expect(verifier.verify(bWithAsEnd, ALICE)).toBeUndefined();
    expect(verifier.verify(a, ALICE)).toBeDefined();
    expect(verifier.verify(b, ALICE)).toBeDefined();
  });

  it('stays bounded: the least recently used token is forgotten, and still verifies afresh', async () => {
    const verifier = createAccessTokenVerifier({ config, keys }, 2);
    const tokens = await Promise.all([mint(), mint(), mint()]);
    for (const { token } of tokens) expect(await verifier.verify(token, ALICE)).toBeDefined();
    expect(await verifier.verify(tokens[0]!.token, ALICE)).toBeDefined();
  });

  it('a reload that keeps the kid but replaces the key object ends the cached entry (the token is verified afresh)', async () => {
    const verifier = createAccessTokenVerifier({ config, keys });
    const { token } = mint();
    expect(verifier.verify(token, ALICE)).toBeDefined();
    const jwk = await generatePrivateJwk(alg);
    Object.assign(keys, await loadPlatformKeys([{ ...jwk, kid: keys.current.kid }], undefined, 'access', alg));
    expect(verifier.verify(token, ALICE)).toBeUndefined(); // same kid, other key: the signature no longer verifies
  });
});
