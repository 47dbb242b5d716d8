// Random secrets and their at-rest form. Codes, tokens, tickets and client secrets are stored only as
// SHA-256 hashes: a copy of the database does not hand out working credentials.
import crypto from 'node:crypto';

/**
 * Random bytes are drawn from node:crypto's CSPRNG RANDOM_POOL_BYTES at a time and handed out in
 * order, as Node's own crypto.randomUUID does with its cache: one call into OpenSSL per ~128 tokens
 * instead of one per token (it was ~2.5 % of a refresh's CPU, docs/benchmarks.md round 6). Bytes are
 * never handed out twice, and each is zeroed once its token has been made, so the pool holds no
 * copy of a token that was issued. It does hold up to RANDOM_POOL_BYTES of tokens still to be
 * issued (~128), in this process's memory like every other secret it handles (keys, sessions).
 */
export const RANDOM_POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

/** A URL-safe random string carrying `bytes` bytes of entropy (default 256 bits). */
export function randomToken(bytes = 32): string {
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new RangeError(`randomToken: ${bytes} is not a number of bytes`);
  if (bytes > RANDOM_POOL_BYTES / 16) return crypto.randomBytes(bytes).toString('base64url');
  if (used + bytes > pool.length) {
    pool = crypto.randomBytes(RANDOM_POOL_BYTES);
    used = 0;
  }
  const token = pool.toString('base64url', used, used + bytes);
  pool.fill(0, used, used + bytes);
  used += bytes;
  return token;
}

export function sha256Hex(value: string): string {
  // One-shot crypto.hash: the same digest as createHash().update().digest(), without the Hash object.
  return crypto.hash('sha256', value, 'hex');
}

/** Constant-time string comparison (lengths are hashed first so they do not leak either). */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}
