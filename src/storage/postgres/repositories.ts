// The PostgreSQL repositories behind the async interface (src/storage/store.ts). Each statement is
// today's SQLite statement (its file is named on the repository) in PostgreSQL form: $1… parameters,
// GREATEST for SQLite's two-argument max(), ON CONFLICT DO NOTHING for INSERT OR IGNORE, RETURNING
// instead of a change count where a row is taken. The columns SQLite declares COLLATE NOCASE
// (users.username, wikis.slug, reserved_names.name) have the nondeterministic `nocase` collation in
// migrations/postgres/, so plain `=` ignores case there too and uses their keys.
// Integers come back as numbers (src/db/postgres/pool.ts parses bigint); a 0/1 flag is read as
// either an integer or a boolean column.
// Locking (store.ts rule 2): the …ForUpdate reads lock the row; the compare-and-swap writes
// (consume, markRotated, use) say who won through their row count.
import { sessionHandle, type LiveSession } from '../../accounts/sessions.repo.ts';
import type { Ticket, TicketKind } from '../../accounts/tickets.repo.ts';
import { toUser, type UserRow } from '../../accounts/users.repo.ts';
import type { AuditEntry } from '../../audit/audit-log.ts';
import { nowSeconds } from '../../db/open.ts';
import { LOCKS, lockKey } from '../../db/postgres/advisory-locks.ts';
import {
  ATPROTO_AUTH_STATE_TTL_SECONDS,
  AUTHORIZATION_CODE_REPLAY_KEEP_SECONDS,
  AUTHORIZATION_REQUEST_TTL_SECONDS,
  LAST_SEEN_RESOLUTION_SECONDS,
  REVOKED_KEEP_SECONDS,
  ROTATED_REFRESH_KEEP_SECONDS,
  UNCLAIMED_ATPROTO_SESSION_SECONDS,
} from '../../lifetimes.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import type { PendingAuthorization } from '../../oauth/authorize/authorization-requests.repo.ts';
import { newCodeRow, toCode, type CodeRow } from '../../oauth/authorize/codes.repo.ts';
import type { ClientMetadata } from '../../oauth/clients/client.ts';
import { REGISTERED_CLIENT_ID_PREFIX, toClient as toClientWith, type ClientRow } from '../../oauth/clients/clients.repo.ts';
import { BEARER_LOOKUP_SQL, toBearerLookup, toGrant, type GrantRow } from '../../oauth/grants/grants.repo.ts';
import { newRefreshTokenValue, refreshTokenHash, toRefreshToken, type RefreshTokenRow } from '../../oauth/token/refresh-tokens.repo.ts';
import { CAP_WINDOW_SECONDS } from '../../wikis/new-wiki-cap.ts';
import { DAY_SECONDS } from '../../wikis/reserved-names.ts';
import { toWiki, type WikiRow } from '../../wikis/wikis.repo.ts';
import type { Repositories } from '../store.ts';
import { AUDIT_INSERT_COLUMNS, auditInsertValues, toAuditEntry, toClientSummary, type AuditRow, type ClientSummaryRow } from '../rows.ts';
import { isUniqueViolation } from '../wrap.ts';

/** What a repository needs of a pool or of a transaction's client. */
export interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface PostgresRepositoryContext {
  q: Queryable;
  /**
   * Runs several statements as one unit: outside a transaction in a new one (BEGIN … COMMIT),
   * inside one in a SAVEPOINT, so a failure (e.g. a unique violation the method turns into an
   * outcome) rolls back only its own statements and the outer transaction can go on.
   */
  atomic<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Inside a transaction: a SAVEPOINT around one statement; outside: the statement alone. */
  isolated<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
}


const flag = (v: unknown): boolean => v === true || v === 1;
const changed = (r: { rowCount: number | null }): number => r.rowCount ?? 0;
// The row types and their mappers are the SQLite repositories' own (exported from each *.repo.ts).
const toClient = (r: ClientRow) => toClientWith(r, JSON.parse(r.metadata) as ClientMetadata);

/** grants.repo.ts BEARER_LOOKUP_SQL with $n parameters and names for its two unnamed columns. */
const PG_BEARER_LOOKUP_SQL = (() => {
  let n = 0;
  return BEARER_LOOKUP_SQL.replace('SELECT w.slug,', 'SELECT w.slug AS w,')
    .replace('r.jti = ?)', 'r.jti = ?) AS r')
    .replace(/\?/g, () => `$${++n}`);
})();
interface PgBearerRow {
  w: string;
  r: boolean;
  id: string | null;
  client_id: string | null;
  user_did: string | null;
  resource: string | null;
  scope: string | null;
  last_used_at: number | null;
  expires_at: number | null;
  handle: string | null;
}

const REFRESH_COLUMNS = 'hash, grant_id, expires_at, rotated_at, successor_hash, successor_sealed';

async function one<R extends object>(q: Queryable, text: string, values: unknown[]): Promise<R | undefined> {
  return (await q.query<R>(text, values)).rows[0];
}

export function createPostgresRepositories({ q, atomic, isolated }: PostgresRepositoryContext): Repositories {
  const findUser = async (did: string) => {
    const row = await one<UserRow>(q, 'SELECT * FROM users WHERE did = $1', [did]);
    return row && toUser(row);
  };
  const findGrant = async (id: string) => {
    const row = await one<GrantRow>(q, 'SELECT * FROM oauth_grants WHERE id = $1', [id]);
    return row && toGrant(row);
  };
  const revokeGrant = (id: string) =>
    atomic(async (t) => {
      const revoked = changed(await t.query('UPDATE oauth_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [nowSeconds(), id])) === 1;
      await t.query('DELETE FROM refresh_tokens WHERE grant_id = $1', [id]);
      return revoked;
    });
  const listLiveSessions = async (did: string): Promise<LiveSession[]> => {
    const { rows } = await q.query<{ id: string; created_at: number; last_seen_at: number | null; expires_at: number; user_agent: string | null }>(
      `SELECT id, created_at, last_seen_at, expires_at, user_agent FROM sessions
       WHERE did = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY coalesce(last_seen_at, created_at) DESC`,
      [did, nowSeconds()],
    );
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at, lastSeenAt: r.last_seen_at ?? r.created_at, expiresAt: r.expires_at, userAgent: r.user_agent }));
  };
  const revokeSession = async (id: string) =>
    changed(await q.query('UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [nowSeconds(), id]));
  const findCode = (lock: boolean) => async (value: string) => {
    const row = await one<CodeRow>(q, `SELECT * FROM authorization_codes WHERE hash = $1${lock ? ' FOR UPDATE' : ''}`, [sha256Hex(value)]);
    return row && toCode(row);
  };
  const findRefresh = (lock: boolean) => async (hash: string) => {
    const row = await one<RefreshTokenRow>(q, `SELECT ${REFRESH_COLUMNS} FROM refresh_tokens WHERE hash = $1${lock ? ' FOR UPDATE' : ''}`, [hash]);
    return row && toRefreshToken(row);
  };
  const issueRefresh = async (grantId: string, ttlSeconds: number, value: string = newRefreshTokenValue()) => {
    const hash = refreshTokenHash(value);
    const now = nowSeconds();
    await q.query('INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [hash, grantId, now, now + ttlSeconds]);
    return { value, hash };
  };
  const clientCount = async (name: string) => (await one<{ n: number }>(q, 'SELECT n FROM oauth_client_counts WHERE name = $1', [name]))?.n ?? 0;

  return {
    // src/accounts/users.repo.ts
    users: {
      findByDid: findUser,
      async findByUsername(username) {
        const row = await one<UserRow>(q, 'SELECT * FROM users WHERE username = $1', [username]);
        return row && toUser(row);
      },
      async recordLogin(did, handle, displayName) {
        await q.query('UPDATE users SET handle = $1, display_name = $2, last_login_at = $3 WHERE did = $4', [handle, displayName, nowSeconds(), did]);
        return findUser(did);
      },
      async insertWithFirstWiki(input) {
        const now = nowSeconds();
        try {
          await atomic(async (t) => {
            await t.query('INSERT INTO users (did, handle, display_name, username, created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $5)', [
              input.did,
              input.handle,
              input.displayName,
              input.username,
              now,
            ]);
            await t.query('INSERT INTO wikis (slug, owner_did, created_at) VALUES ($1, $2, $3)', [input.username, input.did, now]);
          });
        } catch (err) {
          if (isUniqueViolation(err)) return 'taken';
          throw err;
        }
        return (await findUser(input.did))!;
      },
      // today: src/admin/wikis.ts
      async isUsernameOfOther(username, did) {
        return (await one(q, 'SELECT did FROM users WHERE username = $1 AND did <> $2', [username, did])) !== undefined;
      },
      // today: src/accounts/delete-account.ts
      async delete(did) {
        return changed(await q.query('DELETE FROM users WHERE did = $1', [did])) === 1;
      },
      async recordDeletion(r) {
        await q.query(
          `INSERT INTO deleted_users (did, username, created_at, deleted_at, wikis, grants_revoked, sessions_revoked, pds_revoked)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [r.did, r.username, r.createdAt, r.deletedAt, r.wikis.join(','), r.grantsRevoked, r.sessionsRevoked, r.pdsRevoked ? 1 : 0],
        );
      },
      // store-accounts
      async findByDidForUpdate(did) {
        const row = await one<UserRow>(q, 'SELECT * FROM users WHERE did = $1 FOR UPDATE', [did]);
        return row && toUser(row);
      },
    },

    // src/wikis/wikis.repo.ts, new-wiki-cap.ts, delete-wiki.ts, admin/wikis.ts
    wikis: {
      async findBySlug(slug) {
        const row = await one<WikiRow>(q, 'SELECT slug, owner_did, created_at FROM wikis WHERE slug = $1', [slug]);
        return row && toWiki(row);
      },
      async listByOwner(did) {
        return (await q.query<WikiRow>('SELECT slug, owner_did, created_at FROM wikis WHERE owner_did = $1 ORDER BY created_at, slug', [did])).rows.map(toWiki);
      },
      async countByOwner(did) {
        return (await one<{ n: number }>(q, 'SELECT count(*) AS n FROM wikis WHERE owner_did = $1', [did]))!.n;
      },
      async lockCreation() {
        // Transaction-scoped: released by COMMIT or ROLLBACK (outside a transaction it would be released at once).
        await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(LOCKS.wikiCreation)]);
      },
      async insertCreatedByPerson(slug, ownerDid, createdAt) {
        await isolated((t) => t.query("INSERT INTO wikis (slug, owner_did, created_at, created_by) VALUES ($1, $2, $3, 'signup')", [slug, ownerDid, createdAt]));
      },
      async insertCreatedByOperator(slug, ownerDid, createdAt) {
        await isolated((t) => t.query("INSERT INTO wikis (slug, owner_did, created_at, created_by) VALUES ($1, $2, $3, 'operator')", [slug, ownerDid, createdAt]));
      },
      async newWikisPausedUntil(perDay, now = nowSeconds()) {
        const row = await one<{ created_at: number }>(q, 'SELECT created_at FROM wikis WHERE created_at > $1 ORDER BY created_at DESC LIMIT 1 OFFSET $2', [
          now - CAP_WINDOW_SECONDS,
          perDay - 1,
        ]);
        return row === undefined ? undefined : row.created_at + CAP_WINDOW_SECONDS;
      },
      async createdWithinCap(slug, perDay) {
        const row = await one<{ created_by: string; position: number }>(
          q,
          `SELECT w.created_by,
             (SELECT count(*) FROM wikis o
              WHERE o.created_at > w.created_at - $2
                AND (o.created_at < w.created_at OR (o.created_at = w.created_at AND o.slug <= w.slug))) AS position
           FROM wikis w WHERE w.slug = $1`,
          [slug, CAP_WINDOW_SECONDS],
        );
        return row !== undefined && (row.created_by === 'operator' || row.position <= perDay);
      },
      async remove(wiki, ownerUsername, reason, now = nowSeconds()) {
        return atomic(async (t) => {
          const revoked = changed(
            await t.query('UPDATE oauth_grants SET revoked_at = $1 WHERE wiki_slug = $2 AND revoked_at IS NULL AND expires_at > $1', [now, wiki.slug]),
          );
          await t.query('DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM oauth_grants WHERE wiki_slug = $1)', [wiki.slug]);
          await t.query(
            'INSERT INTO deleted_wikis (slug, owner_did, owner_username, created_at, deleted_at, reason, grants_revoked) VALUES ($1, $2, $3, $4, $5, $6, $7)',
            [wiki.slug, wiki.ownerDid, ownerUsername, wiki.createdAt, now, reason, revoked],
          );
          await t.query('DELETE FROM wikis WHERE slug = $1', [wiki.slug]);
          return revoked;
        });
      },
    },

    // src/wikis/reserved-names.ts
    reservedNames: {
      async find(name, now = nowSeconds()) {
        const row = await one<{ reserved_until: number; held_for_did: string | null }>(
          q,
          'SELECT reserved_until, held_for_did FROM reserved_names WHERE name = $1 AND reserved_until > $2',
          [name, now],
        );
        return row && { reservedUntil: row.reserved_until, heldForDid: row.held_for_did };
      },
      async reserve(name, days, reason, heldForDid, now = nowSeconds()) {
        if (days <= 0) return;
        await q.query(
          `INSERT INTO reserved_names (name, reserved_until, reason, held_for_did) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO UPDATE SET reserved_until = GREATEST(reserved_names.reserved_until, excluded.reserved_until),
             reason = excluded.reason, held_for_did = excluded.held_for_did`,
          [name.toLowerCase(), now + days * DAY_SECONDS, reason, heldForDid],
        );
      },
      async release(name) {
        await q.query('DELETE FROM reserved_names WHERE name = $1', [name]);
      },
      // today: src/accounts/delete-account.ts
      async releaseHeldFor(did) {
        return changed(await q.query('UPDATE reserved_names SET held_for_did = NULL WHERE held_for_did = $1', [did]));
      },
    },

    // src/accounts/sessions.repo.ts
    sessions: {
      async insert(id, did, ttlSeconds, userAgent) {
        const now = nowSeconds();
        await q.query('INSERT INTO sessions (id, did, created_at, expires_at, user_agent) VALUES ($1, $2, $3, $4, $5)', [
          id,
          did,
          now,
          now + ttlSeconds,
          userAgent?.slice(0, 300) ?? null,
        ]);
      },
      async isLive(id, did) {
        return (await one(q, 'SELECT id FROM sessions WHERE id = $1 AND did = $2 AND revoked_at IS NULL AND expires_at > $3', [id, did, nowSeconds()])) !== undefined;
      },
      async liveDid(id) {
        return (await one<{ did: string }>(q, 'SELECT did FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2', [id, nowSeconds()]))?.did;
      },
      async revoke(id) {
        await revokeSession(id);
      },
      async revokeAllForUser(did) {
        return changed(await q.query('UPDATE sessions SET revoked_at = $1 WHERE did = $2 AND revoked_at IS NULL', [nowSeconds(), did]));
      },
      async revokeOthersForUser(did, keepId) {
        return changed(await q.query('UPDATE sessions SET revoked_at = $1 WHERE did = $2 AND id <> $3 AND revoked_at IS NULL', [nowSeconds(), did, keepId]));
      },
      async revokeByHandleForUser(did, handle) {
        const session = (await listLiveSessions(did)).find((s) => sessionHandle(s.id) === handle);
        return session !== undefined && (await revokeSession(session.id)) === 1;
      },
      listLive: listLiveSessions,
      async touch(id) {
        const now = nowSeconds();
        await q.query('UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND (last_seen_at IS NULL OR last_seen_at < $3)', [
          now,
          id,
          now - LAST_SEEN_RESOLUTION_SECONDS,
        ]);
      },
      // today: src/accounts/delete-account.ts
      async countLive(did) {
        return (await one<{ n: number }>(q, 'SELECT count(*) AS n FROM sessions WHERE did = $1 AND revoked_at IS NULL AND expires_at > $2', [did, nowSeconds()]))!.n;
      },
    },

    // src/accounts/tickets.repo.ts
    tickets: {
      async issue<P>(kind: TicketKind, did: string, payload: P, ttlSeconds: number) {
        const value = randomToken();
        await q.query('INSERT INTO sign_in_tickets (hash, kind, did, payload, expires_at) VALUES ($1, $2, $3, $4, $5)', [
          sha256Hex(value),
          kind,
          did,
          JSON.stringify(payload),
          nowSeconds() + ttlSeconds,
        ]);
        return value;
      },
      async peek<P>(kind: TicketKind, value: string): Promise<Ticket<P> | undefined> {
        const row = await one<{ did: string; payload: string }>(q, 'SELECT did, payload FROM sign_in_tickets WHERE hash = $1 AND kind = $2 AND expires_at > $3', [
          sha256Hex(value),
          kind,
          nowSeconds(),
        ]);
        return row && { did: row.did, payload: JSON.parse(row.payload) as P };
      },
      async consume<P>(kind: TicketKind, value: string): Promise<Ticket<P> | undefined> {
        // The DELETE is the compare-and-swap: of concurrent callers, one gets the row back.
        const row = await one<{ did: string; payload: string }>(
          q,
          'DELETE FROM sign_in_tickets WHERE hash = $1 AND kind = $2 AND expires_at > $3 RETURNING did, payload',
          [sha256Hex(value), kind, nowSeconds()],
        );
        return row && { did: row.did, payload: JSON.parse(row.payload) as P };
      },
      // today: src/accounts/delete-account.ts
      async deleteForDid(did) {
        return changed(await q.query('DELETE FROM sign_in_tickets WHERE did = $1', [did]));
      },
    },

    // src/oauth/authorize/authorization-requests.repo.ts
    authorizationRequests: {
      async insert(request) {
        const id = randomToken(24);
        const now = nowSeconds();
        await q.query('INSERT INTO authorization_requests (id_hash, client_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
          sha256Hex(id),
          request.clientId,
          JSON.stringify(request),
          now,
          now + AUTHORIZATION_REQUEST_TTL_SECONDS,
        ]);
        return id;
      },
      async find(id) {
        const row = await one<{ params: string }>(q, 'SELECT params FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2', [sha256Hex(id), nowSeconds()]);
        return row && (JSON.parse(row.params) as PendingAuthorization);
      },
      async consume(id) {
        const row = await one<{ params: string }>(q, 'DELETE FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2 RETURNING params', [
          sha256Hex(id),
          nowSeconds(),
        ]);
        return row && (JSON.parse(row.params) as PendingAuthorization);
      },
    },

    // src/oauth/authorize/codes.repo.ts
    codes: {
      async insert(code) {
        const { value, values } = newCodeRow(code);
        await q.query(
          `INSERT INTO authorization_codes
             (hash, client_id, user_did, wiki_slug, redirect_uri, redirect_uri_sent, code_challenge, resource, scope, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          values,
        );
        return value;
      },
      findByValue: findCode(false),
      findByValueForUpdate: findCode(true),
      async consume(hash, grantId) {
        return changed(await q.query('UPDATE authorization_codes SET consumed_at = $1, grant_id = $2 WHERE hash = $3 AND consumed_at IS NULL', [nowSeconds(), grantId, hash])) === 1;
      },
    },

    // src/oauth/clients/clients.repo.ts
    clients: {
      async lockCaps() {
        // Transaction-scoped: released by COMMIT or ROLLBACK.
        await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(LOCKS.clientCaps)]);
      },
      async insertRegistered(metadata, secretHash) {
        const clientId = REGISTERED_CLIENT_ID_PREFIX + randomToken(16);
        const now = nowSeconds();
        await q.query(`INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at) VALUES ($1, 'registered', $2, $3, $4)`, [
          clientId,
          secretHash,
          JSON.stringify(metadata),
          now,
        ]);
        return { clientId, kind: 'registered', secretHash, metadata, createdAt: now, firstTokenAt: null, lastUsedAt: null };
      },
      async find(clientId) {
        const row = await one<ClientRow>(q, 'SELECT * FROM oauth_clients WHERE client_id = $1', [clientId]);
        return row && toClient(row);
      },
      async upsertDocument(clientId, metadata, fetchedAt, staleAt) {
        // A registered client can never be overwritten by a document (kind guard on the update).
        await q.query(
          `INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at, fetched_at, stale_at)
           VALUES ($1, 'metadata_document', NULL, $2, $3, $3, $4)
           ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, fetched_at = excluded.fetched_at, stale_at = excluded.stale_at
           WHERE oauth_clients.kind = 'metadata_document'`,
          [clientId, JSON.stringify(metadata), fetchedAt, staleAt],
        );
      },
      countUnusedRegistered: () => clientCount('unused_registered'),
      countDocuments: () => clientCount('metadata_document'),
      async markTokenIssued(clientId) {
        const now = nowSeconds();
        await q.query(
          `UPDATE oauth_clients SET first_token_at = coalesce(first_token_at, $1), last_used_at = $1
            WHERE client_id = $2 AND (first_token_at IS NULL OR last_used_at IS NULL OR last_used_at <= $3)`,
          [now, clientId, now - LAST_SEEN_RESOLUTION_SECONDS],
        );
      },
    },

    // src/oauth/grants/grants.repo.ts
    grants: {
      async insert(grant) {
        const now = nowSeconds();
        await q.query(
          `INSERT INTO oauth_grants (id, client_id, user_did, wiki_slug, resource, scope, created_at, last_used_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)`,
          [grant.id, grant.clientId, grant.userDid, grant.wikiSlug, grant.resource, grant.scope, now, grant.expiresAt],
        );
      },
      findById: findGrant,
      async findLive(id) {
        const row = await one<GrantRow & { handle: string }>(
          q,
          `SELECT g.*, u.handle FROM oauth_grants g JOIN users u ON u.did = g.user_did
           WHERE g.id = $1 AND g.revoked_at IS NULL AND g.expires_at > $2`,
          [id, nowSeconds()],
        );
        return row && { ...toGrant(row), handle: row.handle };
      },
      // grants.repo.ts lookupBearer: the same statement, each table read by its primary key.
      async lookupBearer(slug, grantId, jti) {
        const row = await one<PgBearerRow>(q, PG_BEARER_LOOKUP_SQL, [jti, grantId, nowSeconds(), slug]);
        return toBearerLookup(row && [row.w, row.r, row.id, row.client_id, row.user_did, row.resource, row.scope, row.last_used_at, row.expires_at, row.handle]);
      },
      revoke: revokeGrant,
      async touch(id) {
        await q.query('UPDATE oauth_grants SET last_used_at = $1 WHERE id = $2', [nowSeconds(), id]);
      },
      async extend(id, expiresAt) {
        await q.query('UPDATE oauth_grants SET expires_at = GREATEST(expires_at, $1), last_used_at = $2 WHERE id = $3', [expiresAt, nowSeconds(), id]);
      },
      async listConnectedApps(userDid) {
        const { rows } = await q.query<GrantRow & { client_metadata: string; client_kind: 'registered' | 'metadata_document' }>(
          `SELECT g.*, c.metadata AS client_metadata, c.kind AS client_kind
           FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id
           WHERE g.user_did = $1 AND g.revoked_at IS NULL AND g.expires_at > $2
           ORDER BY g.created_at DESC`,
          [userDid, nowSeconds()],
        );
        return rows.map((r) => {
          const metadata = JSON.parse(r.client_metadata) as ClientMetadata;
          return { ...toGrant(r), clientName: metadata.client_name ?? null, clientKind: r.client_kind, clientMetadata: metadata };
        });
      },
      async revokeForUser(id, userDid) {
        const grant = await findGrant(id);
        if (!grant || grant.userDid !== userDid) return false;
        return revokeGrant(id);
      },
      async revokeAllForUser(userDid) {
        return atomic(async (t) => {
          const { rows } = await t.query<{ id: string }>('UPDATE oauth_grants SET revoked_at = $1 WHERE user_did = $2 AND revoked_at IS NULL RETURNING id', [
            nowSeconds(),
            userDid,
          ]);
          if (rows.length > 0) await t.query('DELETE FROM refresh_tokens WHERE grant_id = ANY($1)', [rows.map((r) => r.id)]);
          return rows.length;
        });
      },
      // today: src/accounts/delete-account.ts
      async markRevokedForUser(userDid, now = nowSeconds()) {
        return changed(await q.query('UPDATE oauth_grants SET revoked_at = $1 WHERE user_did = $2 AND revoked_at IS NULL AND expires_at > $1', [now, userDid]));
      },
    },

    // src/oauth/token/refresh-tokens.repo.ts
    refreshTokens: {
      insert: async (grantId, ttlSeconds) => (await issueRefresh(grantId, ttlSeconds)).value,
      issue: issueRefresh,
      findByValue: (value) => findRefresh(false)(refreshTokenHash(value)),
      findByValueForUpdate: (value) => findRefresh(true)(refreshTokenHash(value)),
      findByHash: findRefresh(false),
      async markRotated(hash, successorHash) {
        return changed(await q.query('UPDATE refresh_tokens SET rotated_at = $1, successor_hash = $2 WHERE hash = $3 AND rotated_at IS NULL', [nowSeconds(), successorHash, hash])) === 1;
      },
      async dropSealedSuccessors(rotatedBefore) {
        return changed(await q.query('UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND rotated_at <= $1', [rotatedBefore]));
      },
    },

    // src/oauth/tokens/revoked-access-tokens.repo.ts
    revokedAccessTokens: {
      async add(jti, expiresAt) {
        await q.query('INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [jti, expiresAt]);
      },
      async isRevoked(jti) {
        return (await one(q, 'SELECT jti FROM revoked_access_tokens WHERE jti = $1', [jti])) !== undefined;
      },
    },

    // today: src/oauth/token/client-assertion.ts
    clientAssertionJtis: {
      async use(clientId, jtiHash, expiresAt) {
        return (
          changed(await q.query('INSERT INTO client_assertion_jtis (client_id, jti_hash, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [clientId, jtiHash, expiresAt])) === 1
        );
      },
    },

    // today: src/atproto/stores.ts
    atprotoStates: {
      async get(key, createdAfter) {
        return (await one<{ value: string }>(q, 'SELECT value FROM atproto_auth_states WHERE key = $1 AND created_at > $2', [key, createdAfter]))?.value;
      },
      async set(key, value, appStateHash) {
        await q.query(
          `INSERT INTO atproto_auth_states (key, value, app_state_hash, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, app_state_hash = excluded.app_state_hash`,
          [key, value, appStateHash, nowSeconds()],
        );
      },
      async del(key) {
        await q.query('DELETE FROM atproto_auth_states WHERE key = $1', [key]);
      },
      async replaceValue(key, expected, value) {
        return changed(await q.query('UPDATE atproto_auth_states SET value = $1 WHERE key = $2 AND value = $3', [value, key, expected])) === 1;
      },
      async forgetByAppState(appState) {
        return changed(await q.query('DELETE FROM atproto_auth_states WHERE app_state_hash = $1', [sha256Hex(appState)]));
      },
      async listNotSealedWith(prefix) {
        return (await q.query<{ key: string; value: string }>('SELECT key, value FROM atproto_auth_states WHERE substr(value, 1, $1) <> $2 FOR UPDATE', [prefix.length, prefix])).rows;
      },
      async overwrite(key, value, appStateHash) {
        if (appStateHash === undefined) await q.query('UPDATE atproto_auth_states SET value = $1 WHERE key = $2', [value, key]);
        else await q.query('UPDATE atproto_auth_states SET value = $1, app_state_hash = $2 WHERE key = $3', [value, appStateHash, key]);
      },
    },
    atprotoSessions: {
      async get(did) {
        return (await one<{ value: string }>(q, 'SELECT value FROM atproto_sessions WHERE did = $1', [did]))?.value;
      },
      async set(did, value) {
        await q.query(
          'INSERT INTO atproto_sessions (did, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (did) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
          [did, value, nowSeconds()],
        );
      },
      async del(did) {
        await q.query('DELETE FROM atproto_sessions WHERE did = $1', [did]);
      },
      async replaceValue(did, expected, value) {
        return changed(await q.query('UPDATE atproto_sessions SET value = $1 WHERE did = $2 AND value = $3', [value, did, expected])) === 1;
      },
      async listNotSealedWith(prefix) {
        return (await q.query<{ key: string; value: string }>('SELECT did AS key, value FROM atproto_sessions WHERE substr(value, 1, $1) <> $2 FOR UPDATE', [prefix.length, prefix])).rows;
      },
      async overwrite(did, value) {
        await q.query('UPDATE atproto_sessions SET value = $1 WHERE did = $2', [value, did]);
      },
    },

    // today: src/audit/audit-log.ts
    audit: {
      async insert(e, at = nowSeconds()) {
        await isolated((t) =>
          t.query(`INSERT INTO audit_log (${AUDIT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, auditInsertValues(e, at)),
        );
      },
      async list(filter = {}): Promise<AuditEntry[]> {
        const where: string[] = [];
        const args: (string | number)[] = [];
        const add = (column: string, op: string, value: string | number) => {
          args.push(value);
          where.push(`${column} ${op} $${args.length}`);
        };
        if (filter.did !== undefined) add('did', '=', filter.did);
        if (filter.clientId !== undefined) add('client_id', '=', filter.clientId);
        if (filter.since !== undefined) add('at', '>=', filter.since);
        args.push(filter.limit ?? 1000);
        const { rows } = await q.query<AuditRow>(
          `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT $${args.length}`,
          args,
        );
        return rows.map(toAuditEntry);
      },
    },

    // src/db/purge.ts: the same statements in the same order, in one transaction.
    purge: {
      async expired(options) {
        const now = nowSeconds();
        const statements: [string, string, unknown[]][] = [
          ['atproto_auth_states', 'DELETE FROM atproto_auth_states WHERE created_at <= $1', [now - ATPROTO_AUTH_STATE_TTL_SECONDS]],
          ['sign_in_tickets', 'DELETE FROM sign_in_tickets WHERE expires_at <= $1', [now]],
          ['sessions', 'DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at <= $2', [now, now - REVOKED_KEEP_SECONDS]],
          ['authorization_requests', 'DELETE FROM authorization_requests WHERE expires_at <= $1', [now]],
          ['authorization_codes', 'DELETE FROM authorization_codes WHERE expires_at <= $1', [now - AUTHORIZATION_CODE_REPLAY_KEEP_SECONDS]],
          ['refresh_tokens', 'DELETE FROM refresh_tokens WHERE expires_at <= $1 OR rotated_at <= $2', [now, now - ROTATED_REFRESH_KEEP_SECONDS]],
          ['oauth_grants', 'DELETE FROM oauth_grants WHERE expires_at <= $1 OR revoked_at <= $2', [now, now - REVOKED_KEEP_SECONDS]],
          ['revoked_access_tokens', 'DELETE FROM revoked_access_tokens WHERE expires_at <= $1', [now]],
          ['client_assertion_jtis', 'DELETE FROM client_assertion_jtis WHERE expires_at <= $1', [now]],
          ['reserved_names', 'DELETE FROM reserved_names WHERE reserved_until <= $1', [now]],
          [
            'atproto_sessions',
            'DELETE FROM atproto_sessions WHERE updated_at <= $1 AND did NOT IN (SELECT did FROM users)',
            [now - UNCLAIMED_ATPROTO_SESSION_SECONDS],
          ],
          [
            'oauth_clients',
            `DELETE FROM oauth_clients AS c
             WHERE ((c.first_token_at IS NULL AND c.created_at <= $1) OR coalesce(c.last_used_at, c.created_at) <= $2)
               AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = c.client_id)
               AND NOT EXISTS (SELECT 1 FROM authorization_requests r WHERE r.client_id = c.client_id)
               AND NOT EXISTS (SELECT 1 FROM authorization_codes k WHERE k.client_id = c.client_id)`,
            [now - (options.unusedClientSeconds ?? options.clientIdleSeconds), now - options.clientIdleSeconds],
          ],
          ['audit_log', 'DELETE FROM audit_log WHERE at <= $1', [now - (options.auditRetentionDays ?? 90) * 24 * 60 * 60]],
        ];
        return atomic(async (t) => {
          const counts: Record<string, number> = {};
          for (const [table, sql, args] of statements) counts[table] = changed(await t.query(sql, args));
          return counts;
        });
      },
    },

    // src/admin/users.ts, clients.ts, wikis.ts, deletions.ts, doctor/command.ts
    operator: {
      async listUsers(now = nowSeconds()) {
        const { rows } = await q.query<UserRow & { wikis: number; live_sessions: number; live_grants: number }>(
          `SELECT u.username, u.did, u.handle, u.display_name, u.created_at, u.last_login_at,
             (SELECT count(*) FROM wikis w WHERE w.owner_did = u.did) AS wikis,
             (SELECT count(*) FROM sessions s WHERE s.did = u.did AND s.revoked_at IS NULL AND s.expires_at > $1) AS live_sessions,
             (SELECT count(*) FROM oauth_grants g WHERE g.user_did = u.did AND g.revoked_at IS NULL AND g.expires_at > $1) AS live_grants
           FROM users u ORDER BY u.username`,
          [now],
        );
        return rows.map((r) => ({ ...toUser(r), wikis: r.wikis, liveSessions: r.live_sessions, liveGrants: r.live_grants }));
      },
      async listClients(now = nowSeconds()) {
        const { rows } = await q.query<ClientSummaryRow>(
          `SELECT c.*, (SELECT count(*) FROM oauth_grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL AND g.expires_at > $1) AS live_grants
           FROM oauth_clients c ORDER BY c.created_at, c.client_id`,
          [now],
        );
        return rows.map(toClientSummary);
      },
      async listWikis(ownerDid, now = nowSeconds()) {
        const { rows } = await q.query<{ slug: string; owner_did: string; owner_username: string; live_grants: number; created_at: number }>(
          `SELECT w.slug, w.owner_did, u.username AS owner_username, w.created_at,
             (SELECT count(*) FROM oauth_grants g WHERE g.wiki_slug = w.slug AND g.revoked_at IS NULL AND g.expires_at > $1) AS live_grants
           FROM wikis w JOIN users u ON u.did = w.owner_did
           WHERE $2::text IS NULL OR w.owner_did = $2
           ORDER BY w.slug`,
          [now, ownerDid],
        );
        return rows.map((r) => ({ slug: r.slug, ownerDid: r.owner_did, ownerUsername: r.owner_username, liveGrants: r.live_grants, createdAt: r.created_at }));
      },
      async listDeletedWikis() {
        const { rows } = await q.query<{ slug: string; owner_username: string; owner_did: string; reason: 'owner' | 'account_deleted'; grants_revoked: number; created_at: number; deleted_at: number }>(
          'SELECT * FROM deleted_wikis ORDER BY deleted_at DESC, slug',
        );
        return rows.map((r) => ({ slug: r.slug, ownerUsername: r.owner_username, ownerDid: r.owner_did, reason: r.reason, grantsRevoked: r.grants_revoked, createdAt: r.created_at, deletedAt: r.deleted_at }));
      },
      async listDeletedUsers() {
        const { rows } = await q.query<{ username: string; did: string; wikis: string; grants_revoked: number; sessions_revoked: number; pds_revoked: number | boolean; created_at: number; deleted_at: number }>(
          'SELECT * FROM deleted_users ORDER BY deleted_at DESC, username',
        );
        return rows.map((r) => ({
          username: r.username,
          did: r.did,
          wikis: r.wikis,
          grantsRevoked: r.grants_revoked,
          sessionsRevoked: r.sessions_revoked,
          pdsRevoked: flag(r.pds_revoked),
          createdAt: r.created_at,
          deletedAt: r.deleted_at,
        }));
      },
      async firstWikiSlug() {
        return (await one<{ slug: string }>(q, 'SELECT slug FROM wikis ORDER BY created_at, slug LIMIT 1', []))?.slug;
      },
    },
  };
}
