// A grant's id: an identifier, not a secret (access tokens carry it as `gid`, the account page and
// the admin CLI show it; every use of a grant is bound to its user, client and wiki besides).
// Ids are time-ordered (src/lib/time-ordered.ts), then 128 random bits (base64url), so that the
// pages a new grant's inserts touch (the grant's primary key, refresh_tokens.grant_id,
// authorization_codes.grant_id) are shared at the right edge of each index (docs/benchmarks.md,
// round 5). Older grants keep their 22-character random ids; nothing parses an id.
import { randomToken } from '../../lib/secrets.ts';
import { timePrefix } from '../../lib/time-ordered.ts';

export function newGrantId(now: number = Date.now()): string {
  return timePrefix(now) + randomToken(16);
}
