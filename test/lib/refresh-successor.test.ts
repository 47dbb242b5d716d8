// src/oauth/token/refresh-successor.ts with src/lib/sealing.ts `mac`: a rotated refresh token's
// successor is made from the presented token under a key derived from the platform key file, and
// made again on a reuse, across a key rotation, only for the successor hash recorded.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer, sealingJwksOf, type SealingJwk } from '../../src/lib/sealing.ts';
import { randomToken } from '../../src/lib/secrets.ts';
import { successorAgain, successorValue } from '../../src/oauth/token/refresh-successor.ts';
import { newRefreshTokenValue, refreshTokenHash } from '../../src/oauth/token/refresh-tokens.repo.ts';

const jwk = (kid: string): SealingJwk => ({ kid, d: crypto.randomBytes(32).toString('base64url') });
const a = jwk('key-a');
const b = jwk('key-b');

describe('sealer.mac', () => {
  it('is an HMAC per key and context, under a key of its own: never the sealing key', () => {
    const sealer = createSealer([a]);
    const mac = sealer.mac('input', 'context');
    expect(mac).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sealer.mac('input', 'context')).toBe(mac);
    expect(sealer.mac('input', 'other context')).not.toBe(mac);
    expect(sealer.mac('other input', 'context')).not.toBe(mac);
    expect(createSealer([b]).mac('input', 'context')).not.toBe(mac);
    // Key separation: the MAC key is not the AES key derived from the same private key.
    const aesKey = Buffer.from(crypto.hkdfSync('sha256', Buffer.from(a.d, 'base64url'), Buffer.from(a.kid, 'utf8'), 'robot-auth/at-rest/v1', 32));
    expect(crypto.createHmac('sha256', aesKey).update(`v1\0${a.kid}\0context\0input`).digest('base64url')).not.toBe(mac);
    // Every key of the file, the current one first.
    expect(createSealer([b, a]).macs('input', 'context')).toEqual([createSealer([b]).mac('input', 'context'), mac]);
  });
});

describe('the derived successor', () => {
  it('is a time-ordered refresh token value, made again from the presented value and the recorded hash', () => {
    const sealer = createSealer([a]);
    const presented = newRefreshTokenValue();
    const successor = successorValue(sealer, presented, 0x0190_0000_0000);
    expect(successor).toMatch(/^019000000000[A-Za-z0-9_-]{43}$/);
    expect(successorAgain(sealer, presented, { successorHash: refreshTokenHash(successor), successorSealed: null })).toBe(successor);
    // Another presented value, another hash, a hash of the former form: nothing.
    expect(successorAgain(sealer, newRefreshTokenValue(), { successorHash: refreshTokenHash(successor), successorSealed: null })).toBeUndefined();
    expect(successorAgain(sealer, presented, { successorHash: refreshTokenHash(newRefreshTokenValue()), successorSealed: null })).toBeUndefined();
    expect(successorAgain(sealer, presented, { successorHash: refreshTokenHash(randomToken(32)), successorSealed: null })).toBeUndefined();
    expect(successorAgain(sealer, presented, { successorHash: null, successorSealed: null })).toBeUndefined();
  });

  it('shares nothing with a successor of the same token made at another time (a rotation lost, then made again)', () => {
    const sealer = createSealer([a]);
    const presented = newRefreshTokenValue();
    const first = successorValue(sealer, presented, 0x0190_0000_0000);
    const again = successorValue(sealer, presented, 0x0190_0000_0001);
    expect(again.slice(12)).not.toBe(first.slice(12));
  });

  it('uses the key that seals, not a key published ahead of signing', () => {
    const future = Math.floor(Date.now() / 1000) + 3600;
    const keys = sealingJwksOf([{ ...b, purpose: 'access', sign_after: future }, { ...a, purpose: 'access' }]);
    const presented = newRefreshTokenValue();
    expect(successorValue(createSealer(keys), presented, 1)).toBe(successorValue(createSealer([a]), presented, 1));
  });

  it('is made again after a key rotation while the old key is in the file, and not once it is gone', () => {
    const presented = newRefreshTokenValue();
    const successor = successorValue(createSealer([a]), presented);
    const recorded = { successorHash: refreshTokenHash(successor), successorSealed: null };
    expect(successorAgain(createSealer([b, a]), presented, recorded)).toBe(successor);
    expect(successorAgain(createSealer([b]), presented, recorded)).toBeUndefined();
  });

  it('a successor sealed before the derived form still opens, bound to its hash', () => {
    const sealer = createSealer([a]);
    const successor = randomToken(32);
    const successorHash = refreshTokenHash(successor);
    const sealed = sealer.seal(successor, `refresh_tokens.successor_sealed:${successorHash}`);
    expect(successorAgain(sealer, 'any presented value', { successorHash, successorSealed: sealed })).toBe(successor);
    expect(successorAgain(sealer, 'any presented value', { successorHash: refreshTokenHash(randomToken(32)), successorSealed: sealed })).toBeUndefined();
  });
});
