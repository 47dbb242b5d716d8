// The verified-token cache must never accept what a fresh verification would refuse.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig, type Config } from '../../../src/config/env.ts';
import { generatePrivateJwk, loadPlatformKeys, type PlatformKeys } from '../../../src/config/keys.ts';
import { createAccessTokenVerifier, signAccessToken } from '../../../src/oauth/tokens/access-token.ts';

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
