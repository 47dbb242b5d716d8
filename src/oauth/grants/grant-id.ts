// A grant's id: an identifier, not a secret (access tokens carry it as `gid`, the account page and
// the admin CLI show it; every use of a grant is bound to its user, client and wiki besides).
// Ids are time-ordered, like UUIDv7 (RFC 9562 §5.7): 12 hex digits of the creation time in
// milliseconds, then 128 random bits (base64url). Grants made close together sort next to each
// other, so the B-tree pages their inserts touch (the grant's primary key, refresh_tokens.grant_id,
// authorization_codes.grant_id) are a few shared ones at the right edge of each index instead of one
// random page per grant and index: fewer pages per COMMIT on SQLite (docs/benchmarks.md, round 5),
// better locality on PostgreSQL. Hex keeps the byte order of the time (base64url's alphabet does not).
// Older grants keep their 22-character random ids; nothing parses an id.
import { randomToken } from '../../lib/secrets.ts';

export function newGrantId(now: number = Date.now()): string {
  return Math.floor(now).toString(16).padStart(12, '0') + randomToken(16);
}
