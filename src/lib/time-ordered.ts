// Time-ordered keys, like UUIDv7 (RFC 9562 §5.7): 12 hex digits of the creation time in milliseconds
// in front of a random or hashed part. Keys made close together sort next to each other, so the
// B-tree pages their inserts touch are a few shared ones at the right edge of an index instead of
// one random leaf per key: fewer pages per COMMIT and per checkpoint on SQLite, better locality on
// PostgreSQL (docs/benchmarks.md, rounds 5 and 9). Hex keeps the byte order of the time (base64url's
// alphabet does not). The prefix is not secret: it says when the key was made, as created_at does.

/** The prefix's length: 12 hex digits cover milliseconds until the year 10889. */
export const TIME_PREFIX_LENGTH = 12;

export function timePrefix(now: number = Date.now()): string {
  return Math.floor(now).toString(16).padStart(TIME_PREFIX_LENGTH, '0');
}
