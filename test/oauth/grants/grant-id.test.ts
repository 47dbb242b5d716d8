// Grant ids are time-ordered (src/oauth/grants/grant-id.ts): ids made later sort after ids made
// earlier, byte for byte as SQLite compares TEXT keys (hex digits sort the same in any collation),
// and each carries 128 random bits.
import { describe, expect, it } from 'vitest';
import { newGrantId } from '../../../src/oauth/grants/grant-id.ts';

describe('newGrantId', () => {
  it('sorts by creation time, across hex-digit and length boundaries', () => {
    const times = [0, 1, 0xf, 0x10, 0xfff, 0x1000, Date.UTC(2026, 11, 1), Date.UTC(2026, 11, 1) + 1, Date.UTC(2100, 0, 1), 0xffffffffffff];
    const ids = times.map((t) => newGrantId(t));
    const sorted = [...ids].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(sorted).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{22}$/);
  });

  it('carries 128 random bits: ids made in the same millisecond differ', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 1000 }, () => newGrantId(now)));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id.slice(0, 12)).toBe(now.toString(16).padStart(12, '0'));
  });
});
