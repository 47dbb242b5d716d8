// randomToken (src/lib/secrets.ts): tokens drawn from a pool of CSPRNG bytes must still be what a
// fresh crypto.randomBytes call would give: the requested length, never repeated (across the pool's
// refills too), uniformly spread, and no copy left in the pool once handed out.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RANDOM_POOL_BYTES, randomToken } from '../../src/lib/secrets.ts';

afterEach(() => vi.restoreAllMocks());

describe('randomToken', () => {
  it('gives the requested entropy, base64url, and never the same token twice across many pool refills', () => {
    const n = (RANDOM_POOL_BYTES / 32) * 20 + 7;
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const t = randomToken();
      expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t, 'base64url')).toHaveLength(32);
      seen.add(t);
    }
    expect(seen.size).toBe(n);
    for (const bytes of [1, 12, 16, 33, 256, 257, 1000]) expect(Buffer.from(randomToken(bytes), 'base64url')).toHaveLength(bytes);
  });

  it('bytes are spread evenly (no byte value far from 1/256 over ~200,000 bytes)', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 6400; i++) for (const b of Buffer.from(randomToken(), 'base64url')) counts[b]!++;
    const expected = (6400 * 32) / 256;
    // A fixed, repeated or zeroed pool would put one value far beyond this (σ ≈ 28 here).
    for (const c of counts) expect(Math.abs(c - expected)).toBeLessThan(200);
  });

  it('draws from the CSPRNG once per pool, and leaves zeros where the handed-out bytes were', () => {
    const pools: Buffer[] = [];
    const real = crypto.randomBytes.bind(crypto) as (size: number) => Buffer;
    vi.spyOn(crypto, 'randomBytes').mockImplementation(((size: number) => {
      const b = real(size);
      pools.push(b);
      return b;
    }) as typeof crypto.randomBytes);
    const tokens = Array.from({ length: RANDOM_POOL_BYTES / 32 + 1 }, () => randomToken());
    // At most two pools for one pool's worth of tokens and one more (the first may be part-used).
    expect(pools.length).toBeGreaterThanOrEqual(1);
    expect(pools.length).toBeLessThanOrEqual(2);
    const pool = pools[0]!;
    for (const t of tokens) expect(pool.includes(Buffer.from(t, 'base64url'))).toBe(false);
  });
});
