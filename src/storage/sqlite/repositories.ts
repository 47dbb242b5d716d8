// The SQLite repositories behind the async interface (src/storage/store.ts): the synchronous
// *.repo.ts repositories and SQL-owning functions (wikis-admin.ts), wrapped, so each statement exists
// once. The few statements written here directly are marked "today: <file>" with the domain file
// whose rule they serve (that file calls the Store; it holds no SQL).
// Every method runs synchronously when called: store.ts's mutex decides when it is called.
import type Database from 'better-sqlite3';
import { createSessionsRepo } from '../../accounts/sessions.repo.ts';
import { createTicketsRepo, type TicketKind } from '../../accounts/tickets.repo.ts';
import { createUsersRepo } from '../../accounts/users.repo.ts';
import type { AuditEvent } from '../../audit/audit-log.ts';
import { nowSeconds, type Db } from '../../db/open.ts';
import { sha256Hex } from '../../lib/secrets.ts';
import { purgeExpired } from '../../db/purge.ts';
import { createAuthorizationRequestsRepo } from '../../oauth/authorize/authorization-requests.repo.ts';
import { createCodesRepo } from '../../oauth/authorize/codes.repo.ts';
import { createClientsRepo } from '../../oauth/clients/clients.repo.ts';
import { createGrantsRepo } from '../../oauth/grants/grants.repo.ts';
import { createRefreshTokensRepo } from '../../oauth/token/refresh-tokens.repo.ts';
import { createRevokedAccessTokensRepo } from '../../oauth/tokens/revoked-access-tokens.repo.ts';
import { createWikisRepo } from '../../wikis/wikis.repo.ts';
import { AUDIT_INSERT_COLUMNS, auditInsertValues } from '../rows.ts';
import type { Repositories } from '../store.ts';
import { rememberedBearerLookups, type LookupBearer } from './bearer-lookups.ts';
import {
  createdWithinCap,
  listAudit,
  listClients,
  listDeletedUsers,
  listDeletedWikis,
  listUsers,
  newWikisPausedUntil,
  releaseName,
  removeWikiRow,
  reservationOf,
  reserveName,
} from './wikis-admin.ts';

export interface SqliteRepositories {
  repos: Repositories;
  /** repos.grants.lookupBearer, synchronous (the store's lookupBearerNow). */
  lookupBearer: LookupBearer;
}

export function createSqliteRepositories(db: Db): SqliteRepositories {
  const users = createUsersRepo(db);
  const wikis = createWikisRepo(db);
  const sessions = createSessionsRepo(db);
  const tickets = createTicketsRepo(db);
  const authorizationRequests = createAuthorizationRequestsRepo(db);
  const codes = createCodesRepo(db);
  const clients = createClientsRepo(db);
  const grants = createGrantsRepo(db);
  const refreshTokens = createRefreshTokensRepo(db);
  const revokedAccessTokens = createRevokedAccessTokensRepo(db);
  const bearerLookups = rememberedBearerLookups(
    db,
    (slug, grantId, jti) => grants.lookupBearer(slug, grantId, jti),
    (id, now) => grants.touch(id, now),
  );

  // Prepared lazily: some tables exist only after a migration.
  const prepared = new Map<string, Database.Statement<unknown[]>>();
  const sql = (text: string): Database.Statement<unknown[]> => {
    let statement = prepared.get(text);
    if (!statement) prepared.set(text, (statement = db.prepare<unknown[]>(text)));
    return statement;
  };

  const repos: Repositories = {
    users: {
      findByDid: async (did) => users.findByDid(did),
      findByUsername: async (username) => users.findByUsername(username),
      recordLogin: async (did, handle, displayName) => users.recordLogin(did, handle, displayName),
      insertWithFirstWiki: async (input) => users.insertWithFirstWiki(input),
      // today: src/admin/wikis.ts
      isUsernameOfOther: async (username, did) => sql('SELECT did FROM users WHERE username = ? AND did <> ?').get(username, did) !== undefined,
      // today: src/accounts/delete-account.ts
      delete: async (did) => sql('DELETE FROM users WHERE did = ?').run(did).changes === 1,
      recordDeletion: async (r) => {
        sql(
          `INSERT INTO deleted_users (did, username, created_at, deleted_at, wikis, grants_revoked, sessions_revoked, pds_revoked)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(r.did, r.username, r.createdAt, r.deletedAt, r.wikis.join(','), r.grantsRevoked, r.sessionsRevoked, r.pdsRevoked ? 1 : 0);
      },
      // store-accounts: BEGIN IMMEDIATE already serialises the deletion.
      findByDidForUpdate: async (did) => users.findByDid(did),
    },
    wikis: {
      findBySlug: async (slug) => wikis.findBySlug(slug),
      listByOwner: async (did) => wikis.listByOwner(did),
      countByOwner: async (did) => wikis.countByOwner(did),
      // BEGIN IMMEDIATE already serialises every writer.
      lockCreation: async () => undefined,
      insertCreatedByPerson: async (slug, ownerDid, createdAt) => wikis.insertCreatedByPerson(slug, ownerDid, createdAt),
      // today: src/admin/wikis.ts createWiki
      insertCreatedByOperator: async (slug, ownerDid, createdAt) => {
        sql("INSERT INTO wikis (slug, owner_did, created_at, created_by) VALUES (?, ?, ?, 'operator')").run(slug, ownerDid, createdAt);
      },
      newWikisPausedUntil: async (perDay, now) => newWikisPausedUntil(db, perDay, now),
      createdWithinCap: async (slug, perDay) => createdWithinCap(db, slug, perDay),
      remove: async (wiki, ownerUsername, reason, now) =>
        removeWikiRow(db, wiki, ownerUsername, reason, now),
    },
    reservedNames: {
      find: async (name, now) => reservationOf(db, name, now),
      reserve: async (name, days, reason, heldForDid, now) => reserveName(db, name, days, reason, heldForDid, now),
      release: async (name) => releaseName(db, name),
      // today: src/accounts/delete-account.ts
      releaseHeldFor: async (did) => sql('UPDATE reserved_names SET held_for_did = NULL WHERE held_for_did = ?').run(did).changes,
    },
    sessions: {
      insert: async (id, did, ttl, userAgent) => sessions.insert(id, did, ttl, userAgent),
      isLive: async (id, did) => sessions.isLive(id, did),
      liveDid: async (id) => sessions.liveDid(id),
      revoke: async (id) => sessions.revoke(id),
      revokeAllForUser: async (did) => sessions.revokeAllForUser(did),
      revokeOthersForUser: async (did, keepId) => sessions.revokeOthersForUser(did, keepId),
      revokeByHandleForUser: async (did, handle) => sessions.revokeByHandleForUser(did, handle),
      listLive: async (did) => sessions.listLive(did),
      touch: async (id) => sessions.touch(id),
      // today: src/accounts/delete-account.ts
      countLive: async (did) =>
        (sql('SELECT count(*) AS n FROM sessions WHERE did = ? AND revoked_at IS NULL AND expires_at > ?').get(did, nowSeconds()) as { n: number }).n,
    },
    tickets: {
      issue: async <P>(kind: TicketKind, did: string, payload: P, ttl: number) => tickets.issue(kind, did, payload, ttl),
      peek: async <P>(kind: TicketKind, value: string) => tickets.peek<P>(kind, value),
      consume: async <P>(kind: TicketKind, value: string) => tickets.consume<P>(kind, value),
      // today: src/accounts/delete-account.ts
      deleteForDid: async (did) => sql('DELETE FROM sign_in_tickets WHERE did = ?').run(did).changes,
    },
    authorizationRequests: {
      insert: async (request) => authorizationRequests.insert(request),
      find: async (id) => authorizationRequests.find(id),
      consume: async (id) => authorizationRequests.consume(id),
    },
    codes: {
      insert: async (code) => codes.insert(code),
      findByValue: async (value) => codes.findByValue(value),
      // BEGIN IMMEDIATE already serialises the transaction: the plain read is the locked read.
      findByValueForUpdate: async (value) => codes.findByValue(value),
      consume: async (hash, grantId) => codes.consume(hash, grantId),
    },
    clients: {
      // BEGIN IMMEDIATE already serialises every writer.
      lockCaps: async () => undefined,
      insertRegistered: async (metadata, secretHash) => clients.insertRegistered(metadata, secretHash),
      find: async (clientId) => clients.find(clientId),
      upsertDocument: async (clientId, metadata, fetchedAt, staleAt) => clients.upsertDocument(clientId, metadata, fetchedAt, staleAt),
      countUnusedRegistered: async () => clients.countUnusedRegistered(),
      countDocuments: async () => clients.countDocuments(),
      markTokenIssued: async (clientId) => clients.markTokenIssued(clientId),
    },
    grants: {
      insert: async (grant) => grants.insert(grant),
      findById: async (id) => grants.findById(id),
      findLive: async (id) => grants.findLive(id),
      lookupBearer: async (slug, grantId, jti) => bearerLookups.lookupBearer(slug, grantId, jti),
      revoke: async (id) => grants.revoke(id),
      touch: async (id) => bearerLookups.touch(id),
      extend: async (id, expiresAt) => grants.extend(id, expiresAt),
      listConnectedApps: async (did) => grants.listConnectedApps(did),
      revokeForUser: async (id, did) => grants.revokeForUser(id, did),
      revokeAllForUser: async (did) => grants.revokeAllForUser(did),
      // today: src/accounts/delete-account.ts
      markRevokedForUser: async (did, now = nowSeconds()) =>
        sql('UPDATE oauth_grants SET revoked_at = ? WHERE user_did = ? AND revoked_at IS NULL AND expires_at > ?').run(now, did, now).changes,
    },
    refreshTokens: {
      insert: async (grantId, ttl) => refreshTokens.insert(grantId, ttl),
      issue: async (grantId, ttl, value) => refreshTokens.issue(grantId, ttl, value),
      findByValue: async (value) => refreshTokens.findByValue(value),
      // BEGIN IMMEDIATE already serialises the transaction: the plain read is the locked read.
      findByValueForUpdate: async (value) => refreshTokens.findByValue(value),
      findByHash: async (hash) => refreshTokens.findByHash(hash),
      markRotated: async (hash, successorHash) => refreshTokens.markRotated(hash, successorHash),
      dropSealedSuccessors: async (before) => refreshTokens.dropSealedSuccessors(before),
    },
    revokedAccessTokens: {
      add: async (jti, expiresAt) => revokedAccessTokens.add(jti, expiresAt),
      isRevoked: async (jti) => revokedAccessTokens.isRevoked(jti),
    },
    clientAssertionJtis: {
      // today: src/oauth/token/client-assertion.ts
      use: async (clientId, jtiHash, expiresAt) =>
        sql('INSERT INTO client_assertion_jtis (client_id, jti_hash, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(clientId, jtiHash, expiresAt)
          .changes === 1,
    },
    atprotoStates: {
      // the ATProto client's state store (src/storage/atproto-stores.ts; rules: src/atproto/stores.ts)
      get: async (key, createdAfter) =>
        (sql('SELECT value FROM atproto_auth_states WHERE key = ? AND created_at > ?').get(key, createdAfter) as { value: string } | undefined)?.value,
      set: async (key, value, appStateHash) => {
        sql(
          `INSERT INTO atproto_auth_states (key, value, app_state_hash, created_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET value = excluded.value, app_state_hash = excluded.app_state_hash`,
        ).run(key, value, appStateHash, nowSeconds());
      },
      del: async (key) => {
        sql('DELETE FROM atproto_auth_states WHERE key = ?').run(key);
      },
      replaceValue: async (key, expected, value) =>
        sql('UPDATE atproto_auth_states SET value = ? WHERE key = ? AND value = ?').run(value, key, expected).changes === 1,
      forgetByAppState: async (appState) => sql('DELETE FROM atproto_auth_states WHERE app_state_hash = ?').run(sha256Hex(appState)).changes,
      // the seal pass (src/storage/atproto-stores.ts sealAtprotoRows)
      listNotSealedWith: async (prefix) =>
        sql('SELECT key, value FROM atproto_auth_states WHERE substr(value, 1, ?) <> ?').all(prefix.length, prefix) as { key: string; value: string }[],
      overwrite: async (key, value, appStateHash) => {
        if (appStateHash === undefined) sql('UPDATE atproto_auth_states SET value = ? WHERE key = ?').run(value, key);
        else sql('UPDATE atproto_auth_states SET value = ?, app_state_hash = ? WHERE key = ?').run(value, appStateHash, key);
      },
    },
    atprotoSessions: {
      // the ATProto client's session store (src/storage/atproto-stores.ts; rules: src/atproto/stores.ts)
      get: async (did) => (sql('SELECT value FROM atproto_sessions WHERE did = ?').get(did) as { value: string } | undefined)?.value,
      set: async (did, value) => {
        sql(
          'INSERT INTO atproto_sessions (did, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(did) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        ).run(did, value, nowSeconds());
      },
      del: async (did) => {
        sql('DELETE FROM atproto_sessions WHERE did = ?').run(did);
      },
      replaceValue: async (did, expected, value) =>
        sql('UPDATE atproto_sessions SET value = ? WHERE did = ? AND value = ?').run(value, did, expected).changes === 1,
      listNotSealedWith: async (prefix) =>
        sql('SELECT did AS key, value FROM atproto_sessions WHERE substr(value, 1, ?) <> ?').all(prefix.length, prefix) as { key: string; value: string }[],
      overwrite: async (did, value) => {
        sql('UPDATE atproto_sessions SET value = ? WHERE did = ?').run(value, did);
      },
    },
    audit: {
      // today: src/audit/audit-log.ts (a nested better-sqlite3 transaction is a SAVEPOINT)
      insert: async (e: AuditEvent, at = nowSeconds()) => {
        db.transaction(() =>
          sql(`INSERT INTO audit_log (${AUDIT_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(...auditInsertValues(e, at)),
        )();
      },
      list: async (filter) => listAudit(db, filter),
    },
    purge: {
      expired: async (options) => purgeExpired(db, options),
    },
    operator: {
      listUsers: async (now) => listUsers(db, now),
      listClients: async (now) => listClients(db, now),
      // today: src/admin/wikis.ts listWikis (which also builds the URLs)
      listWikis: async (ownerDid, now = nowSeconds()) =>
        (
          sql(
            `SELECT w.slug, w.owner_did, u.username AS owner_username, w.created_at,
               (SELECT count(*) FROM oauth_grants g WHERE w.slug = g.wiki_slug AND g.revoked_at IS NULL AND g.expires_at > @now) AS live_grants
             FROM wikis w JOIN users u ON u.did = w.owner_did
             WHERE @owner IS NULL OR w.owner_did = @owner
             ORDER BY w.slug`,
          ).all({ now, owner: ownerDid }) as { slug: string; owner_did: string; owner_username: string; live_grants: number; created_at: number }[]
        ).map((r) => ({ slug: r.slug, ownerDid: r.owner_did, ownerUsername: r.owner_username, liveGrants: r.live_grants, createdAt: r.created_at })),
      listDeletedWikis: async () => listDeletedWikis(db),
      listDeletedUsers: async () => listDeletedUsers(db),
      // today: src/admin/doctor/command.ts
      firstWikiSlug: async () => (sql('SELECT slug FROM wikis ORDER BY created_at, slug LIMIT 1').get() as { slug: string } | undefined)?.slug,
    },
  };
  return { repos, lookupBearer: bearerLookups.lookupBearer };
}
