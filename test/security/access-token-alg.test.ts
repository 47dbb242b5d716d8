// Issue 11 item 2: access tokens are now verified by our own code (node:crypto, src/oauth/tokens/
// access-token.ts) instead of jose. These are the attacks a hand-written JWS verifier must refuse,
// for each ACCESS_TOKEN_ALG (RFC 8725 §2.1, §3.1; RFC 7515 §4.1; RFC 9068 §4):
//  - algorithm confusion: HS256 with the published public key (PEM, DER or JWK JSON) as the HMAC secret;
//  - `none` in any spelling, with or without a signature;
//  - a valid signature by a key that is not ours (unknown kid, no kid, or the attacker's key embedded
//    in the header as `jwk`/`jku`/`x5c`), and our kid with another algorithm (the key decides);
//  - a token of the algorithm the service is not configured for, once no key of that kind is published;
//  - `crit` extensions, other curves/hashes, a second encoding of the same signature;
//  - valid signatures over wrong claims (issuer, audience, expiry, iat/nbf in the future, missing claims).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { generatePrivateJwk, loadPlatformKeys, type PlatformKeys, type SigningKey } from '../../src/config/keys.ts';
import { createAccessTokenVerifier, signAccessToken, verifyAccessTokenJwt } from '../../src/oauth/tokens/access-token.ts';

const AUD = 'http://alice.localhost:3000/mcp';
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A compact JWS with exactly this header and payload, signed by `sign` over the signing input. */
function jws(header: Record<string, unknown>, payload: Record<string, unknown>, sign: (input: Buffer) => Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(Buffer.from(input)).toString('base64url')}`;
}

function keyPairFor(alg: 'RS256' | 'ES256'): crypto.KeyPairKeyObjectResult {
  return alg === 'ES256' ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
}

function signerFor(key: crypto.KeyObject, alg: 'RS256' | 'ES256') {
  return (input: Buffer) => (alg === 'ES256' ? crypto.sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' }) : crypto.sign('sha256', input, key));
}

describe.each(['RS256', 'ES256'] as const)('access-token verification with ACCESS_TOKEN_ALG=%s', (alg) => {
  const other = alg === 'RS256' ? 'ES256' : 'RS256';
  let dir: string;
  let config: Config;
  let keys: PlatformKeys;
  let key: SigningKey;
  let claims: Record<string, unknown>;
  const verify = (token: string, audience: string | undefined = AUD) => verifyAccessTokenJwt({ config, keys }, token, audience);
  const header = (extra: Record<string, unknown> = {}) => ({ alg, kid: key.kid, typ: 'at+jwt', ...extra });
  const ours = (payload = claims, h = header()) => jws(h, payload, signerFor(key.privateKeyObject, alg));

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alg-'));
    config = parseConfig({ DATA_DIR: dir, ACCESS_TOKEN_ALG: alg });
    keys = await loadPlatformKeys([await generatePrivateJwk(alg)], undefined, 'access', alg);
    key = keys.current;
    const t = now();
    claims = { iss: config.publicUrl, sub: 'did:plc:alice', aud: AUD, exp: t + 600, iat: t, jti: 'j1', client_id: 'c1', scope: 'wiki:read', gid: 'g1' };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('accepts a token the service signed, and one crafted here with the same key and claims (controls)', () => {
    const { token } = signAccessToken({ config, keys }, { did: 'did:plc:alice', resource: AUD, clientId: 'c1', scope: 'wiki:read', grantId: 'g1' });
    expect(verify(token)?.did).toBe('did:plc:alice');
    expect(verify(ours())).toMatchObject({ did: 'did:plc:alice', clientId: 'c1', grantId: 'g1', scopes: ['wiki:read'] });
    expect(verify(ours(claims, header({ typ: 'application/at+jwt' })))).toBeDefined();
  });

  it('refuses HS256 keyed with the published public key (PEM, DER, JWK JSON): algorithm confusion', () => {
    const secrets = [
      key.publicKeyObject.export({ type: 'spki', format: 'pem' }),
      key.publicKeyObject.export({ type: 'spki', format: 'der' }),
      Buffer.from(JSON.stringify(key.publicJwk)),
      ...(alg === 'RS256' ? [key.publicKeyObject.export({ type: 'pkcs1', format: 'pem' })] : []),
    ];
    for (const secret of secrets) {
      for (const hs of ['HS256', 'HS384', 'HS512']) {
        const hash = `sha${hs.slice(2)}`;
        const forged = jws(header({ alg: hs }), claims, (input) => crypto.createHmac(hash, secret).update(input).digest());
        expect(verify(forged)).toBeUndefined();
      }
    }
  });

  it('refuses alg "none" in any spelling, with an empty or a copied signature', () => {
    const valid = ours();
    const copied = valid.split('.')[2]!;
    for (const none of ['none', 'None', 'NONE', 'nOnE', '']) {
      const unsigned = `${b64(header({ alg: none }))}.${b64(claims)}`;
      expect(verify(`${unsigned}.`)).toBeUndefined();
      expect(verify(unsigned)).toBeUndefined();
      expect(verify(`${unsigned}.${copied}`)).toBeUndefined();
    }
    const noAlg: Record<string, unknown> = header();
    delete noAlg.alg;
    expect(verify(`${b64(noAlg)}.${b64(claims)}.${copied}`)).toBeUndefined();
  });

  it('refuses a valid signature by a key that is not ours: unknown kid, no kid, or the key embedded in the header', async () => {
    const attacker = keyPairFor(alg);
    const sign = signerFor(attacker.privateKey, alg);
    const jwk = attacker.publicKey.export({ format: 'jwk' });
    expect(verify(jws(header({ kid: 'unknown-kid' }), claims, sign))).toBeUndefined();
    const noKid: Record<string, unknown> = header();
    delete noKid.kid;
    expect(verify(jws(noKid, claims, sign))).toBeUndefined();
    expect(verify(jws({ ...noKid, jwk }, claims, sign))).toBeUndefined();
    expect(verify(jws(header({ kid: 'attacker', jwk }), claims, sign))).toBeUndefined();
    expect(verify(jws(header({ kid: 'attacker', jku: 'https://attacker.example/jwks.json' }), claims, sign))).toBeUndefined();
    // Our kid, the attacker's signature: the key's own public key decides.
    expect(verify(jws(header(), claims, sign))).toBeUndefined();
    // A kid that looks like a prototype member.
    for (const kid of ['__proto__', 'constructor', 'toString']) expect(verify(jws(header({ kid }), claims, sign))).toBeUndefined();
  });

  it(`refuses our kid with another algorithm: ${other}, ES384/ES512/ES256K, PS256, RS512`, () => {
    const attacker = keyPairFor(other);
    expect(verify(jws(header({ alg: other }), claims, signerFor(attacker.privateKey, other)))).toBeUndefined();
    for (const a of ['ES384', 'ES512', 'ES256K', 'PS256', 'RS512', 'EdDSA', 'rs256', 'es256']) {
      expect(verify(jws(header({ alg: a }), claims, signerFor(key.privateKeyObject, alg)))).toBeUndefined();
    }
  });

  it(`refuses a ${other} token once no ${other} access key is published; accepts it while one is (the switch)`, async () => {
    const old = await generatePrivateJwk(other, 'access');
    const during = await loadPlatformKeys([await generatePrivateJwk(alg, 'access'), old], undefined, 'access', alg);
    const oldKey = during.all[1]!;
    const oldToken = jws({ alg: other, kid: oldKey.kid, typ: 'at+jwt' }, claims, signerFor(oldKey.privateKeyObject, other));
    expect([...during.acceptedAlgorithms].sort()).toEqual(['ES256', 'RS256']);
    expect(verifyAccessTokenJwt({ config, keys: during }, oldToken, AUD)).toBeDefined();
    const after = await loadPlatformKeys([{ ...(await generatePrivateJwk(alg, 'access')) }, { ...old, retire_after: now() - 1 }], undefined, 'access', alg);
    expect([...after.acceptedAlgorithms]).toEqual([alg]);
    expect(verifyAccessTokenJwt({ config, keys: after }, oldToken, AUD)).toBeUndefined();
    // And the service refuses to sign with a key of the other kind than configured.
    await expect(loadPlatformKeys([old], undefined, 'access', alg)).rejects.toThrow(`ACCESS_TOKEN_ALG=${alg}`);
  });

  it('refuses `crit`, a second encoding of the same signature, extra segments and oversized tokens', () => {
    expect(verify(ours(claims, header({ crit: ['exp'] })))).toBeUndefined();
    expect(verify(ours(claims, header({ crit: ['b64'], b64: false })))).toBeUndefined();
    const token = ours();
    const [h, p, s] = token.split('.') as [string, string, string];
    // The last base64url character carries unused low bits; flipping one gives the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.at(-1)!);
    const twin = `${s.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    expect(verify(`${h}.${p}.${twin}`)).toBeUndefined();
    expect(verify(`${h}.${p}.${s}=`)).toBeUndefined();
    expect(verify(`${h}.${p}.${s}.`)).toBeUndefined();
    expect(verify(`${h}.${p}.${s}.${s}`)).toBeUndefined();
    expect(verify(` ${token}`)).toBeUndefined();
    expect(verify(ours({ ...claims, pad: 'x'.repeat(9000) }))).toBeUndefined();
  });

  it('refuses a valid signature over wrong claims', () => {
    const t = now();
    const bad: Record<string, unknown>[] = [
      { ...claims, iss: 'https://evil.example' },
      { ...claims, aud: 'http://bob.localhost:3000/mcp' },
      { ...claims, aud: [AUD] },
      { ...claims, exp: t - 31 },
      { ...claims, exp: String(t + 600) },
      { ...claims, iat: t + 120 },
      { ...claims, nbf: t + 120 },
      { ...claims, nbf: 'soon' },
    ];
    for (const drop of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'gid']) {
      const c = { ...claims };
      delete c[drop];
      bad.push(c);
    }
    for (const payload of bad) expect(verify(ours(payload)), JSON.stringify(payload)).toBeUndefined();
    for (const typ of ['JWT', 'wiki-id+jwt', 'at+JWT+x', undefined]) expect(verify(ours(claims, header({ typ })))).toBeUndefined();
    expect(verify(ours({ ...claims, exp: t - 10 }))).toBeDefined(); // within the 30 s clock tolerance
  });

  it('the cached verifier refuses the same forgeries (a cache miss is a full verification)', () => {
    const verifier = createAccessTokenVerifier({ config, keys });
    const forged = jws(header({ alg: 'HS256' }), claims, (input) =>
      crypto.createHmac('sha256', key.publicKeyObject.export({ type: 'spki', format: 'pem' })).update(input).digest(),
    );
    expect(verifier.verify(forged, AUD)).toBeUndefined();
    expect(verifier.verify(forged, AUD)).toBeUndefined();
    expect(verifier.verify(ours(), AUD)).toBeDefined();
  });
});
