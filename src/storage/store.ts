// The storage seam (issue 12 items 1–2): one async interface, implemented for SQLite
// (src/storage/sqlite/, the zero-config default) and PostgreSQL (src/storage/postgres/, DATABASE_URL).
// test/storage/contract.test.ts runs one suite against both; a method exists in both or in neither.
//
// What belongs to a repository: every SQL statement. A repository method reads or writes rows and
// returns data (domain types from today's *.repo.ts files); it never decides a protocol rule (those
// stay in the domain files named in their opening comments, e.g. refresh-rotation.ts) and never sees
// Express. Same names and semantics as today's synchronous repositories, with Promise results; the
// methods that were SQL inside domain files (admin listings, delete-wiki, delete-account, reserved
// names, the new-wiki cap, purge, the ATProto stores, the audit log, the client-assertion jti) are
// named after what they do and say where the statement lives today.
//
// Transaction rules:
//  1. A unit of work that reads, decides and writes (refresh rotation, code exchange, replay
//     revocation, consent, create/delete wiki, delete account) runs in `store.transaction(fn)` and
//     uses only the `tx` repositories it is given. It returns an outcome; it throws only to roll
//     back (an error that must undo a write already made, e.g. the code exchange's lost
//     compare-and-swap), and errors for the client are otherwise thrown after commit by the caller.
//  2. The read that decides must lock on PostgreSQL (READ COMMITTED): use the `…ForUpdate` method
//     (SELECT … FOR UPDATE) or a compare-and-swap write (UPDATE … WHERE … IS NULL, INSERT … ON
//     CONFLICT DO NOTHING) whose Promise<boolean> says who won. On SQLite the transaction is
//     BEGIN IMMEDIATE (one writer), so the same call is already serialised and `…ForUpdate` is the
//     plain read.
//  3. SQLite has one connection: `transaction` holds a promise mutex, and every call on
//     `store.repos` waits for it, so no statement of another request runs inside an open
//     transaction while its callback awaits. Inside a callback, `store.repos` and `store.transaction`
//     reject at once (they would wait for the transaction itself; on PostgreSQL for a row it locked):
//     use `tx`. `tx` refuses calls once its transaction has ended (wrap.ts). The one read that does
//     not queue is `store.lookupBearerNow` (the bearer check's, on every request): it answers only
//     while no transaction is open on the connection, and the caller otherwise asks `repos`.
//     Transactions queued together may share one COMMIT, each in its own savepoint (group commit,
//     sqlite/sqlite-store.ts); each caller is answered only after that COMMIT, and a throw rolls
//     back only its own unit.
//  4. PostgreSQL: a transaction takes a client from the pool (BEGIN … COMMIT/ROLLBACK, release) and
//     is retried, callback included, on serialization failure or deadlock (40001/40P01), a bounded
//     number of times: so the callback must not have effects outside the database (log after commit).
//  5. The callback must not do network I/O: it holds the SQLite writer or PostgreSQL row locks.
//
// Adding a method: declare it in the repository's interface below with its doc comment (say when it
// locks), implement it in sqlite/repositories.ts (wrap today's repository where it has the method)
// and postgres/repositories.ts ($1… parameters; GREATEST for SQLite's scalar max; plain `=` on the
// NOCASE columns, whose PostgreSQL `nocase` collation ignores case), and add a case to
// test/storage/contract.test.ts, which runs on both.
//
// Adjustments to the agreed design, with reasons:
//  - `Store.requestLock` (the ATProto client's RuntimeLock) lives here too: in-process on SQLite
//    (one process serves everything), a PostgreSQL advisory lock across instances otherwise
//    (postgres/atproto-lock.ts), so the caller picks neither.
//  - The ATProto state/session repositories hold rows (sealed strings), not the sealing, so the
//    store needs no key material: src/storage/atproto-stores.ts builds the ATProto client's stores
//    and the seal pass over them, with src/atproto/stores.ts's rules and format.
//  - `operator`: the admin CLI's listings (src/admin/*.ts), which are SQL outside repositories too.
//  - `ping()` for /healthz (issue 12 item 4 asks it to report database reachability).
//  - On SQLite "two instances" do not exist (one process, one connection, rule 3), so the contract
//    suite's cross-instance cases run on one SQLite store and on two PostgreSQL stores.
import type { RuntimeLock } from '@atproto/oauth-client-node';
import type { LiveSession } from '../accounts/sessions.repo.ts';
import type { Ticket, TicketKind } from '../accounts/tickets.repo.ts';
import type { User } from '../accounts/users.repo.ts';
import type { AuditEntry, AuditEvent, AuditFilter } from '../audit/audit-log.ts';
import type { PendingAuthorization } from '../oauth/authorize/authorization-requests.repo.ts';
import type { AuthorizationCode } from '../oauth/authorize/codes.repo.ts';
import type { ClientMetadata, OAuthClientRecord } from '../oauth/clients/client.ts';
import type { CachedClientRecord } from '../oauth/clients/clients.repo.ts';
import type { BearerLookup, ConnectedApp, Grant, LiveGrant } from '../oauth/grants/grants.repo.ts';
import type { RefreshToken } from '../oauth/token/refresh-tokens.repo.ts';
import type { Wiki } from '../wikis/wikis.repo.ts';
import type { Reservation } from '../wikis/reserved-names.ts';
import type { ClientSummary } from '../admin/clients.ts';
import type { DeletedUser, DeletedWiki } from '../admin/deletions.ts';
import type { UserSummary } from '../admin/users.ts';

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Outside a transaction: each call is its own statement (autocommit). */
  readonly repos: Repositories;
  /** Runs `fn` in one transaction (rules 1–5 above); commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** The ATProto OAuth client's `requestLock` (token refreshes of one DID are serial across instances). */
  readonly requestLock: RuntimeLock;
  /**
   * `repos.grants.lookupBearer`, answered synchronously when the store can read without waiting
   * (SQLite with no transaction open on its connection); undefined otherwise (PostgreSQL always),
   * and the caller asks `repos`. The bearer check runs on every request to every wiki: this saves
   * the queue's promises on each (src/resource/check-bearer.ts).
   */
  lookupBearerNow(slug: string, grantId: string, jti: string): BearerLookup | undefined;
  /** Whether the database answers (for /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Repositories {
  users: UsersRepository;
  wikis: WikisRepository;
  reservedNames: ReservedNamesRepository;
  sessions: SessionsRepository;
  tickets: TicketsRepository;
  authorizationRequests: AuthorizationRequestsRepository;
  codes: CodesRepository;
  clients: ClientsRepository;
  grants: GrantsRepository;
  refreshTokens: RefreshTokensRepository;
  revokedAccessTokens: RevokedAccessTokensRepository;
  clientAssertionJtis: ClientAssertionJtisRepository;
  atprotoStates: AtprotoStatesRepository;
  atprotoSessions: AtprotoSessionsRepository;
  audit: AuditRepository;
  purge: PurgeRepository;
  operator: OperatorRepository;
}

/** src/accounts/users.repo.ts, plus the user SQL of admin/wikis.ts and delete-account.ts. */
export interface UsersRepository {
  findByDid(did: string): Promise<User | undefined>;
  /** Case-insensitive (the column is NOCASE). */
  findByUsername(username: string): Promise<User | undefined>;
  /** Refreshes what the PDS told us at sign-in; the updated user, or undefined if unknown. */
  recordLogin(did: string, handle: string, displayName: string | null): Promise<User | undefined>;
  /** The user and their first wiki (slug = username) together; 'taken' when either name exists (also a lost race). */
  insertWithFirstWiki(input: { did: string; handle: string; displayName: string | null; username: string }): Promise<User | 'taken'>;
  /** admin/wikis.ts: whether `username` is someone else's than `did` (the slug of their first wiki). */
  isUsernameOfOther(username: string, did: string): Promise<boolean>;
  /** delete-account.ts: deletes the row (sessions, grants, codes, refresh tokens cascade); true if it existed. */
  delete(did: string): Promise<boolean>;
  /** delete-account.ts: the operator's record of a deleted account. */
  recordDeletion(row: { did: string; username: string; createdAt: number; deletedAt: number; wikis: string[]; grantsRevoked: number; sessionsRevoked: number; pdsRevoked: boolean }): Promise<void>;

  // ── store-accounts ──
  /**
   * delete-account.ts's deciding read: findByDid, locking the row until the transaction ends
   * (SELECT … FOR UPDATE), so a concurrent deletion of the same account waits and then finds it
   * gone (undefined) instead of deleting and recording it twice. SQLite: the plain read.
   */
  findByDidForUpdate(did: string): Promise<User | undefined>;
}

/** src/wikis/wikis.repo.ts, plus new-wiki-cap.ts, delete-wiki.ts and admin/wikis.ts's SQL. */
export interface WikisRepository {
  findBySlug(slug: string): Promise<Wiki | undefined>;
  listByOwner(did: string): Promise<Wiki[]>;
  countByOwner(did: string): Promise<number>;
  /**
   * Call first in a transaction that checks the wiki caps and creates a wiki (signup, create-wiki,
   * admin wikis create): creations then run one at a time, so neither WIKIS_PER_USER nor
   * NEW_WIKIS_PER_DAY is exceeded by concurrent requests. PostgreSQL: a transaction-scoped advisory
   * lock (LOCKS.wikiCreation); SQLite: nothing (BEGIN IMMEDIATE already serialises). delete-wiki takes
   * it too, so a deletion runs alone against creations and other deletions of the same wiki.
   */
  lockCreation(): Promise<void>;
  /** A wiki a person created (counted against NEW_WIKIS_PER_DAY); rejects with a unique violation (isUniqueViolation) when the slug is taken. */
  insertCreatedByPerson(slug: string, ownerDid: string, createdAt: number): Promise<void>;
  /** admin wikis create (src/admin/wikis.ts): not capped, and the TLS ask approves it; a unique violation when taken. */
  insertCreatedByOperator(slug: string, ownerDid: string, createdAt: number): Promise<void>;
  /** new-wiki-cap.ts rule 1: undefined while a wiki may be created now; else when the next may. */
  newWikisPausedUntil(newWikisPerDay: number, now?: number): Promise<number | undefined>;
  /**
   * new-wiki-cap.ts rule 4. Ties on created_at are ordered by insertion on SQLite (rowid) and by
   * slug on PostgreSQL (no rowid); only wikis created in the same second differ.
   */
  createdWithinCap(slug: string, newWikisPerDay: number): Promise<boolean>;
  /**
   * delete-wiki.ts removeWikiRow: revokes the wiki's live grants, deletes their refresh tokens,
   * records the deletion in deleted_wikis and deletes the row. Returns the grants revoked. In a transaction.
   */
  remove(wiki: Wiki, ownerUsername: string, reason: 'owner' | 'account_deleted', now?: number): Promise<number>;
}

/** src/wikis/reserved-names.ts. */
export interface ReservedNamesRepository {
  find(name: string, now?: number): Promise<Reservation | undefined>;
  /** Holds `name` for `days` (nothing when 0); keeps the later end when already held. */
  reserve(name: string, days: number, reason: 'wiki_deleted' | 'account_deleted', heldForDid: string | null, now?: number): Promise<void>;
  release(name: string): Promise<void>;
  /** delete-account.ts: reservations held for `did` are then held for nobody. */
  releaseHeldFor(did: string): Promise<number>;
}

/** src/accounts/sessions.repo.ts. */
export interface SessionsRepository {
  insert(id: string, did: string, ttlSeconds: number, userAgent: string | null): Promise<void>;
  isLive(id: string, did: string): Promise<boolean>;
  liveDid(id: string): Promise<string | undefined>;
  revoke(id: string): Promise<void>;
  revokeAllForUser(did: string): Promise<number>;
  revokeOthersForUser(did: string, keepId: string): Promise<number>;
  revokeByHandleForUser(did: string, handle: string): Promise<boolean>;
  listLive(did: string): Promise<LiveSession[]>;
  /** Written only when the stored time is a minute old. */
  touch(id: string): Promise<void>;
  /** delete-account.ts: live sessions of the user. */
  countLive(did: string): Promise<number>;
}

/** src/accounts/tickets.repo.ts. */
export interface TicketsRepository {
  issue<P>(kind: TicketKind, did: string, payload: P, ttlSeconds: number): Promise<string>;
  peek<P>(kind: TicketKind, value: string): Promise<Ticket<P> | undefined>;
  /** Single use: only the first caller gets it (DELETE … RETURNING / the DELETE's change count). */
  consume<P>(kind: TicketKind, value: string): Promise<Ticket<P> | undefined>;
  /** delete-account.ts. */
  deleteForDid(did: string): Promise<number>;
}

/** src/oauth/authorize/authorization-requests.repo.ts. */
export interface AuthorizationRequestsRepository {
  insert(request: PendingAuthorization): Promise<string>;
  find(id: string): Promise<PendingAuthorization | undefined>;
  /** Single use: only the first caller gets it. */
  consume(id: string): Promise<PendingAuthorization | undefined>;
}

/** src/oauth/authorize/codes.repo.ts. */
export interface CodesRepository {
  insert(code: Omit<AuthorizationCode, 'hash' | 'expiresAt' | 'consumedAt' | 'grantId'>): Promise<string>;
  findByValue(value: string): Promise<AuthorizationCode | undefined>;
  /**
   * The code exchange's deciding read (authorization-code.ts): locks the row until the transaction
   * ends (SELECT … FOR UPDATE), so a concurrent exchange or replay waits and then sees consumed_at.
   */
  findByValueForUpdate(value: string): Promise<AuthorizationCode | undefined>;
  /**
   * Compare-and-swap, one statement: marks the code used and bound to `grantId` (the grant the
   * exchange has just inserted, for a replay to revoke); false when another request used it first.
   */
  consume(hash: string, grantId: string): Promise<boolean>;
}

/** src/oauth/clients/clients.repo.ts. */
export interface ClientsRepository {
  insertRegistered(metadata: ClientMetadata, secretHash: string | null): Promise<OAuthClientRecord>;
  find(clientId: string): Promise<CachedClientRecord | undefined>;
  /** Never overwrites a registered client. */
  upsertDocument(clientId: string, metadata: ClientMetadata, fetchedAt: number, staleAt: number): Promise<void>;
  /**
   * Call first in a transaction that checks MAX_UNUSED_CLIENTS or MAX_CACHED_CLIENT_DOCUMENTS and
   * then registers or caches a client (client-caps.ts): with several instances the check and the
   * insert then run one at a time, so the cap is not exceeded by concurrent requests. PostgreSQL: a
   * transaction-scoped advisory lock (LOCKS.clientCaps); SQLite: nothing (BEGIN IMMEDIATE).
   */
  lockCaps(): Promise<void>;
  /** Maintained counts (triggers in both schemas), O(1). */
  countUnusedRegistered(): Promise<number>;
  countDocuments(): Promise<number>;
  /** A token was issued: first_token_at once, last_used_at when the stored one is LAST_SEEN_RESOLUTION_SECONDS old (lifetimes.ts). */
  markTokenIssued(clientId: string): Promise<void>;
}

/** src/oauth/grants/grants.repo.ts, plus delete-account.ts's grant UPDATE. */
export interface GrantsRepository {
  insert(grant: Omit<Grant, 'createdAt' | 'lastUsedAt' | 'revokedAt'>): Promise<void>;
  findById(id: string): Promise<Grant | undefined>;
  findLive(id: string): Promise<LiveGrant | undefined>;
  /** The bearer check's one read (src/resource/check-bearer.ts): the wiki, the live grant on it, whether the jti is revoked. */
  lookupBearer(slug: string, grantId: string, jti: string): Promise<BearerLookup>;
  /** Revokes and deletes its refresh tokens (atomically); true if it was live. */
  revoke(id: string): Promise<boolean>;
  touch(id: string): Promise<void>;
  /** Sliding expiry: never shortens. */
  extend(id: string, expiresAt: number): Promise<void>;
  listConnectedApps(userDid: string): Promise<ConnectedApp[]>;
  revokeForUser(id: string, userDid: string): Promise<boolean>;
  revokeAllForUser(userDid: string): Promise<number>;
  /** delete-account.ts: marks the user's live grants revoked (rows go with the user); returns how many. */
  markRevokedForUser(userDid: string, now?: number): Promise<number>;
}

/** src/oauth/token/refresh-tokens.repo.ts. */
export interface RefreshTokensRepository {
  insert(grantId: string, ttlSeconds: number): Promise<string>;
  /** insert, also returning the stored hash (rotation records it as the successor's); `value`: the rotation's successor (refresh-successor.ts), else a new random one. */
  issue(grantId: string, ttlSeconds: number, value?: string): Promise<{ value: string; hash: string }>;
  findByValue(value: string): Promise<RefreshToken | undefined>;
  /**
   * Refresh rotation's deciding read (refresh-rotation.ts): locks the presented token's row until
   * the transaction ends (SELECT … FOR UPDATE), so concurrent uses of one token run one after the
   * other and the later ones see rotated_at (grace or replay), never a second rotation.
   */
  findByValueForUpdate(value: string): Promise<RefreshToken | undefined>;
  findByHash(hash: string): Promise<RefreshToken | undefined>;
  /** Compare-and-swap: false when it already had a successor. */
  markRotated(hash: string, successorHash: string): Promise<boolean>;
  /** Rows rotated before successors were derived: drops their sealed successors rotated at or before `rotatedBefore`. */
  dropSealedSuccessors(rotatedBefore: number): Promise<number>;
}

/** src/oauth/tokens/revoked-access-tokens.repo.ts. */
export interface RevokedAccessTokensRepository {
  add(jti: string, expiresAt: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}

/** src/oauth/token/client-assertion.ts (RFC 7523 §3 item 7). */
export interface ClientAssertionJtisRepository {
  /** Records the jti's use; false when it was used before. Atomic (primary key + ON CONFLICT DO NOTHING). */
  use(clientId: string, jtiHash: string, expiresAt: number): Promise<boolean>;
}

/** src/atproto/stores.ts, the in-flight authorization states (values sealed by the caller). */
export interface AtprotoStatesRepository {
  /** The stored (sealed) value of a state created after `createdAfter`. */
  get(key: string, createdAfter: number): Promise<string | undefined>;
  set(key: string, sealedValue: string, appStateHash: string | null): Promise<void>;
  del(key: string): Promise<void>;
  /** Re-seal in place, only if the row still holds `expected` (compare-and-swap). */
  replaceValue(key: string, expected: string, sealedValue: string): Promise<boolean>;
  /** forgetAuthStates: deletes the states of one sign-in attempt, found by the hash of its app state. */
  forgetByAppState(appState: string): Promise<number>;
  /**
   * The seal pass (sealAtprotoRows): rows whose value does not start with `prefix` (the current
   * key's), locked until the transaction ends (FOR UPDATE), so a concurrent `set` on another
   * instance is never overwritten with the re-sealed old value.
   */
  listNotSealedWith(prefix: string): Promise<{ key: string; value: string }[]>;
  /** The seal pass: overwrites a value; `appStateHash` too when given (a plaintext row being sealed). */
  overwrite(key: string, sealedValue: string, appStateHash?: string | null): Promise<void>;
}

/** src/atproto/stores.ts, the per-DID sessions (values sealed by the caller). */
export interface AtprotoSessionsRepository {
  get(did: string): Promise<string | undefined>;
  set(did: string, sealedValue: string): Promise<void>;
  del(did: string): Promise<void>;
  replaceValue(did: string, expected: string, sealedValue: string): Promise<boolean>;
  /** The seal pass: rows whose value does not start with `prefix` (key = the DID), locked like the states'. */
  listNotSealedWith(prefix: string): Promise<{ key: string; value: string }[]>;
  overwrite(did: string, sealedValue: string): Promise<void>;
}

/** src/audit/audit-log.ts (the table part; the log line is the caller's). */
export interface AuditRepository {
  /**
   * Inserts one entry. Inside a transaction it runs in its own SAVEPOINT, so a failed insert rolls
   * back only itself; it rejects then, and the caller (audit-log.ts) logs and swallows.
   */
  insert(event: AuditEvent, at?: number): Promise<void>;
  /** Newest first. */
  list(filter?: AuditFilter): Promise<AuditEntry[]>;
}

/** src/db/purge.ts (without the ATProto re-seal pass, which needs the sealer). */
export interface PurgeRepository {
  /** Deletes every row that can no longer matter, in one transaction; counts per table. */
  expired(options: { clientIdleSeconds: number; unusedClientSeconds?: number; auditRetentionDays?: number }): Promise<Record<string, number>>;
}

/** The admin CLI's listings (src/admin/users.ts, clients.ts, wikis.ts, deletions.ts, doctor). */
export interface OperatorRepository {
  /** By username, with wiki, live-session and live-grant counts. */
  listUsers(now?: number): Promise<UserSummary[]>;
  /** By creation, with live-grant counts. */
  listClients(now?: number): Promise<ClientSummary[]>;
  /** By slug, with the owner's username and live-grant counts; only `ownerDid`'s when given. */
  listWikis(ownerDid: string | null, now?: number): Promise<{ slug: string; ownerDid: string; ownerUsername: string; liveGrants: number; createdAt: number }[]>;
  /** Newest first. */
  listDeletedWikis(): Promise<DeletedWiki[]>;
  listDeletedUsers(): Promise<DeletedUser[]>;
  /** admin doctor: the oldest wiki's slug, to probe. */
  firstWikiSlug(): Promise<string | undefined>;
}
