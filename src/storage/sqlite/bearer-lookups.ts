// The bearer check's read (grants.lookupBearer, BEARER_LOOKUP_SQL) on SQLite, answered again from
// memory while the database cannot have changed: every request to a wiki's /mcp and every
// forward_auth call reads it, and between two writes the answer for one access token is the same.
// The answer is exactly what the statement would return now; nothing is served that a revocation,
// a deletion or an expiry has ended. The rules, each checked on every request:
//
//   1. No write on this connection since the answer was read: SQLite's `total_changes()` (every row
//      an INSERT, UPDATE or DELETE of this connection changed, committed or not) is unchanged. Every
//      write of this process goes through this connection (the store's), so a revocation, a deleted
//      user or wiki, a revoked jti, an extended grant ends every remembered answer at once. One write
//      is left out: the bearer check's own record of a grant's last use (`touch`, at most once a
//      minute per grant: lifetimes.ts), which changes `last_used_at` alone; it is counted apart and
//      the answers of that grant carry the new time.
//   2. No commit by another connection since: `PRAGMA data_version` (SQLite's own signal for
//      "another connection committed") is read at the first lookup of each event-loop turn, and
//      again once CHECK_EVERY_MS has passed within one; a change forgets every answer. Another
//      connection is another instance sharing the file (CADDY_INSTANCES=several), the admin CLI
//      (`grants revoke`, `users delete`), or anything else that opens it. Such a commit is seen
//      within one turn and at most CHECK_EVERY_MS after it lands.
//   3. The grant has not expired since: the answer keeps the grant's `expires_at`, and is used only
//      while it is in the future (the statement's own `g.expires_at > now`).
//   4. Never remembered inside a transaction, whose writes may still roll back; at most MAX_ENTRIES
//      answers (all forgotten when full, as the other caches of the request path).
//
// PostgreSQL (several instances, no cheap signal of another's commit) reads every time.
// Measured: docs/benchmarks.md, "Round 10".
import { nowSeconds, type Db } from '../../db/open.ts';
import type { BearerLookup } from '../../oauth/grants/grants.repo.ts';

export const MAX_ENTRIES = 10_000;

/** Rule 2's bound within one event-loop turn (a long turn, or one whose end was not seen). */
export const CHECK_EVERY_MS = 1;

// Taken once: tests that fake timers must not stop a turn from ending (as sqlite-store.ts does).
const nextTurn = globalThis.setImmediate;

interface Entry {
  slug: string;
  grantId: string;
  /** total_changes() when the answer was read (rule 1). */
  changes: number;
  answer: BearerLookup;
}

export type LookupBearer = (slug: string, grantId: string, jti: string) => BearerLookup;

export interface RememberedBearerLookups {
  lookupBearer: LookupBearer;
  /** `touch` (the repository's, on `db`): records a grant's last use without ending any answer (rule 1). */
  touch(grantId: string): void;
}

/** `read` (the repository's lookupBearer on `db`), answered again under the rules above. */
export function rememberedBearerLookups(db: Db, read: LookupBearer, touch: (grantId: string, now: number) => void): RememberedBearerLookups {
  const totalChanges = db.prepare<[], number>('SELECT total_changes()').pluck();
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  // Keyed by the access token's jti: one answer per token; slug and grant are compared on a hit.
  const entries = new Map<string, Entry>();
  /** Rows changed by `touch` (rule 1): not a change of any answer but its last-use time. */
  let touchedRows = 0;
  /** The last-use time each grant was touched at since its answers were read. */
  const touchedAt = new Map<string, number>();
  const changesSoFar = () => totalChanges.get()! - touchedRows;
  let seenVersion: number | undefined;
  /** performance.now() of the last data_version read in this turn; undefined once the turn has ended. */
  let checkedAt: number | undefined;
  const endTurn = () => {
    checkedAt = undefined;
  };

  const forgetAll = (): void => {
    entries.clear();
    touchedAt.clear();
  };

  /**
   * Rule 2: once per event-loop turn (and every CHECK_EVERY_MS within one), forget everything if
   * another connection has committed. The turn's end is an immediate kept referenced: an unreferenced
   * one queued from the check phase (a lookup queued behind a group commit runs there) would let the
   * loop sleep in its poll with the turn still open.
   */
  const forgetOthersCommits = (): void => {
    const now = performance.now();
    if (checkedAt !== undefined && now - checkedAt < CHECK_EVERY_MS) return;
    const version = dataVersion.get()!; // throws (SQLITE_BUSY, I/O): nothing marked checked
    if (checkedAt === undefined) nextTurn(endTurn);
    checkedAt = now;
    if (version !== seenVersion) {
      seenVersion = version;
      forgetAll();
    }
  };

  const stillTrue = (entry: Entry, slug: string, grantId: string, changes: number): boolean =>
    entry.changes === changes &&
    entry.slug === slug &&
    entry.grantId === grantId &&
    // Rule 3: a live grant's answer ends with the grant.
    (entry.answer.wiki === 'missing' || entry.answer.grant === undefined || entry.answer.grant.expiresAt > nowSeconds());

  return {
    lookupBearer(slug, grantId, jti) {
      if (db.inTransaction) return read(slug, grantId, jti); // rule 4
      forgetOthersCommits();
      const changes = changesSoFar();
      const entry = entries.get(jti);
      if (entry !== undefined && stillTrue(entry, slug, grantId, changes)) {
        const grant = entry.answer.wiki === 'found' ? entry.answer.grant : undefined;
        const touched = touchedAt.get(grantId);
        if (grant !== undefined && touched !== undefined && touched > grant.lastUsedAt) grant.lastUsedAt = touched;
        return entry.answer;
      }
      const answer = read(slug, grantId, jti);
      if (entries.size >= MAX_ENTRIES) forgetAll();
      entries.set(jti, { slug, grantId, changes, answer });
      return answer;
    },
    touch(grantId) {
      const now = nowSeconds();
      if (db.inTransaction) return touch(grantId, now); // counted as any write: its transaction may hold others
      const before = totalChanges.get()!;
      touch(grantId, now);
      const changed = totalChanges.get()! - before;
      if (changed !== 1) return; // 0 (no such grant) changes nothing; more would be something else
      touchedRows += changed;
      if (touchedAt.size >= MAX_ENTRIES) touchedAt.clear();
      touchedAt.set(grantId, now);
    },
  };
}
