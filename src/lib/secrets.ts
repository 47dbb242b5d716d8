// Random secrets and their at-rest form. Codes, tokens, tickets and client secrets are stored only as
// SHA-256 hashes: a copy of the database does not hand out working credentials.
import crypto from 'node:crypto';

/** A URL-safe random string carrying `bytes` bytes of entropy (default 256 bits). */
export function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
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
