// The storage contract (src/storage/store.ts): one suite, run against the SQLite store and the
// PostgreSQL store (a real server, test/support/postgres.ts, one database per test). Every
// repository method, the transaction rules (no partial write, a `tx` is dead after its transaction,
// the SQLite mutex keeps other requests' statements out of an open transaction), and the
// concurrency guarantees of issue 12 item 2: refresh rotation and code exchange (the token
// endpoint's own refreshAccessToken and exchangeAuthorizationCode, with the test app's context on
// the store under test), ticket and jti use-once under 50 concurrent units of work, on PostgreSQL
// across TWO Store instances (two pools, as two app instances would have); and the ATProto request
// lock across instances.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionHandle } from '../../src/accounts/sessions.repo.ts';
import { migrate } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase, type Db } from '../../src/db/open.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { migratePostgres } from '../../src/db/postgres/migrate.ts';
import { sha256Hex } from '../../src/lib/secrets.ts';
import type { ClientMetadata } from '../../src/oauth/clients/client.ts';
import { exchangeAuthorizationCode } from '../../src/oauth/token/grants/authorization-code.ts';
import { refreshAccessToken } from '../../src/oauth/token/grants/refresh-token.ts';
import { readTokenParams } from '../../src/oauth/token/token-params.ts';
import { refreshTokenHash } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { AtprotoLockTimeout } from '../../src/storage/postgres/atproto-lock.ts';
import { createPostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { openStore } from '../../src/storage/open-store.ts';
import type { AppContext } from '../../src/context.ts';
import type { Repositories, Store } from '../../src/storage/store.ts';
import { isUniqueViolation } from '../../src/storage/wrap.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

/** A fresh, migrated database per test, and a way to open more Store instances on it. */
interface Harness {
  dialect: 'sqlite' | 'postgres';
  store: Store;
  /** Another Store on the same database (PostgreSQL: another pool; SQLite: the same store, one process). */
  another(options?: { lockTimeoutMs?: number }): Store;
  /** count(*) of a table, read outside the store. */
  count(table: string, where?: string): Promise<number>;
  /** Runs raw SQL outside the store (test set-up only: back-dating rows). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

let server: TestPostgres | undefined;
/** The test app (not listening): the keys, sealer, audit log and metrics the token endpoint's domain code runs with. */
let app: TestApp;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-contract-'));
let n = 0;

async function sqliteHarness(): Promise<Harness> {
  const file = path.join(tmp, `db-${n++}.sqlite`);
  const db: Db = openDatabase(file);
  migrate(db);
  const store = createSqliteStore(db);
  return {
    dialect: 'sqlite',
    store,
    another: () => store,
    count: async (table, where) => (db.prepare(`SELECT count(*) AS n FROM ${table}${where ? ` WHERE ${where}` : ''}`).get() as { n: number }).n,
    exec: async (sql) => void db.exec(sql),
    close: () => store.close(),
  };
}

/** Migrated once; each test's database is a copy (CREATE DATABASE … TEMPLATE), which is faster than migrating it. */
let template: string | undefined;
async function migratedDatabase(): Promise<string> {
  if (template === undefined) {
    const url = await server!.createDatabase();
    const pool = createPool({ url, poolSize: 1 });
    await migratePostgres(pool);
    await pool.end();
    template = new URL(url).pathname.slice(1);
  }
  const name = `contract_${n++}`;
  const root = createPool({ url: server!.url, poolSize: 1 });
  try {
    await root.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await root.end();
  }
  return server!.url.replace(/\/postgres$/, `/${name}`);
}

async function postgresHarness(): Promise<Harness> {
  const url = await migratedDatabase();
  const admin = createPool({ url, poolSize: 2 });
  const stores: Store[] = [];
  const open = (options: { lockTimeoutMs?: number } = {}) => {
    const s = createPostgresStore(url, { poolSize: 10, ...options });
    stores.push(s);
    return s;
  };
  return {
    dialect: 'postgres',
    store: open(),
    another: open,
    count: async (table, where) => (await admin.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}${where ? ` WHERE ${where}` : ''}`)).rows[0]!.n,
    exec: async (sql) => void (await admin.query(sql)),
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
      await admin.end();
    },
  };
}

const metadata: ClientMetadata = {
  redirect_uris: ['https://app.example/cb'],
  client_name: 'Contract client',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
} as ClientMetadata;
const DAY = 24 * 60 * 60;
const REFRESH_TTL = 30 * DAY;

/** A user with a first wiki, a registered client and a live grant with one refresh token. */
async function seed(repos: Repositories, name = 'alice') {
  const did = `did:plc:${name}`;
  const user = await repos.users.insertWithFirstWiki({ did, handle: `${name}.test`, displayName: name, username: name });
  if (user === 'taken') throw new Error('seed: taken');
  const client = await repos.clients.insertRegistered(metadata, null);
  const grantId = `grant-${name}-${crypto.randomBytes(4).toString('hex')}`;
  await repos.grants.insert({
    id: grantId,
    clientId: client.clientId,
    userDid: did,
    wikiSlug: name,
    resource: `https://${name}.wiki.test/mcp`,
    scope: 'wiki:read',
    expiresAt: nowSeconds() + REFRESH_TTL,
  });
  const refreshToken = await repos.refreshTokens.insert(grantId, REFRESH_TTL);
  return { did, user, client, grantId, refreshToken };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The test app's context on `store`: the token endpoint's domain functions run on the store under test. */
const contextOn = (store: Store): AppContext => ({ ...app.ctx, store });
const tokenForm = (body: Record<string, string>) => readTokenParams(body, 'application/x-www-form-urlencoded');

beforeAll(async () => {
  server = await startPostgres();
  app = await startTestApp({}, { listen: false });
});
afterAll(async () => {
  await app?.close();
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.each([
  ['sqlite', sqliteHarness],
  ['postgres', postgresHarness],
] as const)('storage contract: %s', (dialect, open) => {
  let h: Harness;
  let repos: Repositories;
  const fresh = async () => {
    h = await open();
    repos = h.store.repos;
  };
  afterEach(async () => {
    await h?.close();
  });

  it('reports its dialect and answers a ping', async () => {
    await fresh();
    expect(h.store.dialect).toBe(dialect);
    await expect(h.store.ping()).resolves.toBeUndefined();
  });

  describe('users and wikis', () => {
    it('creates a user with a first wiki; a name taken in any case is refused without a partial write', async () => {
      await fresh();
      const user = await repos.users.insertWithFirstWiki({ did: 'did:plc:a', handle: 'a.test', displayName: 'A', username: 'alice' });
      expect(user).toMatchObject({ did: 'did:plc:a', handle: 'a.test', displayName: 'A', username: 'alice' });
      expect(await repos.users.insertWithFirstWiki({ did: 'did:plc:b', handle: 'b.test', displayName: null, username: 'ALICE' })).toBe('taken');
      expect(await repos.users.findByDid('did:plc:b')).toBeUndefined();
      expect(await h.count('users')).toBe(1);
      expect(await repos.users.findByUsername('Alice')).toMatchObject({ did: 'did:plc:a' });
      expect(await repos.wikis.findBySlug('ALICE')).toMatchObject({ slug: 'alice', ownerDid: 'did:plc:a' });
    });

    it('inside a transaction, a taken name is an outcome and the transaction goes on and commits', async () => {
      await fresh();
      await seed(repos, 'alice');
      const outcome = await h.store.transaction(async (tx) => {
        const taken = await tx.users.insertWithFirstWiki({ did: 'did:plc:b', handle: 'b', displayName: null, username: 'Alice' });
        const duplicate = await tx.wikis.insertCreatedByPerson('ALICE', 'did:plc:alice', nowSeconds()).catch((e: unknown) => isUniqueViolation(e));
        const created = await tx.users.insertWithFirstWiki({ did: 'did:plc:c', handle: 'c', displayName: null, username: 'carol' });
        return { taken, duplicate, created: created !== 'taken' };
      });
      expect(outcome).toEqual({ taken: 'taken', duplicate: true, created: true });
      expect(await repos.users.findByUsername('carol')).toMatchObject({ did: 'did:plc:c' });
      expect(await repos.users.findByDid('did:plc:b')).toBeUndefined();
    });

    it('records a login, tells a username of another person, deletes and records the deletion', async () => {
      await fresh();
      await seed(repos, 'alice');
      const after = await repos.users.recordLogin('did:plc:alice', 'alice.new', 'Alice N');
      expect(after).toMatchObject({ handle: 'alice.new', displayName: 'Alice N' });
      expect(await repos.users.recordLogin('did:plc:nobody', 'x', null)).toBeUndefined();
      expect(await repos.users.isUsernameOfOther('ALICE', 'did:plc:bob')).toBe(true);
      expect(await repos.users.isUsernameOfOther('alice', 'did:plc:alice')).toBe(false);
      await repos.sessions.insert('s1', 'did:plc:alice', 3600, null);
      expect(await repos.users.delete('did:plc:alice')).toBe(true);
      expect(await repos.users.delete('did:plc:alice')).toBe(false);
      // ON DELETE CASCADE: wiki, grant, refresh token and session went with the user.
      for (const table of ['wikis', 'oauth_grants', 'refresh_tokens', 'sessions']) expect(await h.count(table)).toBe(0);
      await repos.users.recordDeletion({ did: 'did:plc:alice', username: 'alice', createdAt: 1, deletedAt: 2, wikis: ['alice', 'b'], grantsRevoked: 1, sessionsRevoked: 1, pdsRevoked: true });
      expect(await h.count('deleted_users', "wikis = 'alice,b' AND pds_revoked = 1")).toBe(1);
    });

    // store-accounts
    it('findByDidForUpdate reads the user and holds a concurrent deletion of it until the transaction ends', async () => {
      await fresh();
      await seed(repos, 'alice');
      const b = h.another();
      expect(await repos.users.findByDidForUpdate('did:plc:nobody')).toBeUndefined();
      // delete-account.ts's shape: lock-read, then delete and record; two at once on two instances.
      const remove = (store: Store) =>
        store.transaction(async (tx) => {
          const user = await tx.users.findByDidForUpdate('did:plc:alice');
          if (!user) return 'gone';
          await sleep(5); // the other deletion's read happens meanwhile
          await tx.users.delete(user.did);
          await tx.users.recordDeletion({ did: user.did, username: user.username, createdAt: user.createdAt, deletedAt: 2, wikis: [], grantsRevoked: 0, sessionsRevoked: 0, pdsRevoked: true });
          return 'deleted';
        });
      expect((await Promise.all([remove(h.store), remove(b)])).sort()).toEqual(['deleted', 'gone']);
      expect(await h.count('deleted_users')).toBe(1);
    });

    it('lists, counts and inserts wikis; a duplicate slug in another case is a unique violation', async () => {
      await fresh();
      await seed(repos, 'alice');
      await repos.wikis.insertCreatedByPerson('second', 'did:plc:alice', nowSeconds() + 1);
      expect((await repos.wikis.listByOwner('did:plc:alice')).map((w) => w.slug)).toEqual(['alice', 'second']);
      expect(await repos.wikis.countByOwner('did:plc:alice')).toBe(2);
      const err = await repos.wikis.insertCreatedByPerson('SECOND', 'did:plc:alice', nowSeconds()).catch((e: unknown) => e);
      expect(isUniqueViolation(err)).toBe(true);
    });

    it('applies the new-wiki cap (rule 1) and tells which wikis were created within it (rule 4)', async () => {
      await fresh();
      await seed(repos, 'alice');
      const now = nowSeconds();
      await repos.wikis.insertCreatedByPerson('w2', 'did:plc:alice', now + 1);
      await repos.wikis.insertCreatedByPerson('w3', 'did:plc:alice', now + 2);
      await repos.wikis.insertCreatedByOperator('w4', 'did:plc:alice', now + 3);
      expect(await repos.wikis.newWikisPausedUntil(5, now + 3)).toBeUndefined();
      // With a cap of 3, the 3rd newest wiki in the window (w2) holds the pause until it is 24 h old.
      expect(await repos.wikis.newWikisPausedUntil(3, now + 3)).toBe(now + 1 + DAY);
      expect(await repos.wikis.createdWithinCap('w2', 2)).toBe(true);
      expect(await repos.wikis.createdWithinCap('w3', 2)).toBe(false);
      expect(await repos.wikis.createdWithinCap('w4', 2)).toBe(true);
      expect(await repos.wikis.createdWithinCap('missing', 2)).toBe(false);
    });

    it('removes a wiki: revokes its live grants, deletes their refresh tokens, records the deletion', async () => {
      await fresh();
      const { grantId } = await seed(repos, 'alice');
      const wiki = (await repos.wikis.findBySlug('alice'))!;
      const revoked = await h.store.transaction((tx) => tx.wikis.remove(wiki, 'alice', 'owner'));
      expect(revoked).toBe(1);
      expect(await repos.wikis.findBySlug('alice')).toBeUndefined();
      expect(await h.count('refresh_tokens')).toBe(0);
      expect(await repos.grants.findById(grantId)).toBeUndefined(); // cascaded with the wiki row
      expect(await h.count('deleted_wikis', "slug = 'alice' AND grants_revoked = 1 AND reason = 'owner'")).toBe(1);
    });
  });

  it('reserves names (case-insensitively, keeping the later end), releases them and frees those held for a DID', async () => {
    await fresh();
    const now = nowSeconds();
    await repos.reservedNames.reserve('Gone', 30, 'wiki_deleted', 'did:plc:a', now);
    await repos.reservedNames.reserve('gone', 10, 'wiki_deleted', 'did:plc:a', now);
    expect(await repos.reservedNames.find('GONE', now)).toEqual({ reservedUntil: now + 30 * DAY, heldForDid: 'did:plc:a' });
    await repos.reservedNames.reserve('zero', 0, 'wiki_deleted', null, now);
    expect(await repos.reservedNames.find('zero', now)).toBeUndefined();
    expect(await repos.reservedNames.find('gone', now + 31 * DAY)).toBeUndefined();
    expect(await repos.reservedNames.releaseHeldFor('did:plc:a')).toBe(1);
    expect(await repos.reservedNames.find('gone', now)).toEqual({ reservedUntil: now + 30 * DAY, heldForDid: null });
    await repos.reservedNames.release('GONE');
    expect(await repos.reservedNames.find('gone', now)).toBeUndefined();
  });

  it('sessions: live checks, revocations, handles, listing, touch and count', async () => {
    await fresh();
    await seed(repos, 'alice');
    const did = 'did:plc:alice';
    await repos.sessions.insert('s1', did, 3600, 'Firefox '.repeat(100));
    await repos.sessions.insert('s2', did, 3600, null);
    await repos.sessions.insert('s3', did, 3600, null);
    expect(await repos.sessions.isLive('s1', did)).toBe(true);
    expect(await repos.sessions.isLive('s1', 'did:plc:other')).toBe(false);
    expect(await repos.sessions.liveDid('s2')).toBe(did);
    expect(await repos.sessions.countLive(did)).toBe(3);
    const listed = await repos.sessions.listLive(did);
    expect(listed.map((s) => s.id).sort()).toEqual(['s1', 's2', 's3']);
    expect(listed.find((s) => s.id === 's1')!.userAgent).toHaveLength(300);
    await h.exec("UPDATE sessions SET last_seen_at = 1 WHERE id = 's3'");
    await repos.sessions.touch('s3');
    expect((await repos.sessions.listLive(did)).find((s) => s.id === 's3')!.lastSeenAt).toBeGreaterThan(1);
    expect(await repos.sessions.revokeByHandleForUser(did, sessionHandle('s3'))).toBe(true);
    expect(await repos.sessions.revokeByHandleForUser(did, sessionHandle('s3'))).toBe(false);
    expect(await repos.sessions.revokeOthersForUser(did, 's1')).toBe(1);
    await repos.sessions.revoke('s1');
    expect(await repos.sessions.liveDid('s1')).toBeUndefined();
    await repos.sessions.insert('s4', did, 3600, null);
    expect(await repos.sessions.revokeAllForUser(did)).toBe(1);
    expect(await repos.sessions.countLive(did)).toBe(0);
  });

  it('tickets: issued hashed, peeked, used once, expired ones refused, deleted per DID', async () => {
    await fresh();
    const value = await repos.tickets.issue('signup', 'did:plc:a', { returnTo: '/x' }, 600);
    expect(await h.count('sign_in_tickets', `hash = '${sha256Hex(value)}'`)).toBe(1);
    expect(await repos.tickets.peek('signup', value)).toEqual({ did: 'did:plc:a', payload: { returnTo: '/x' } });
    expect(await repos.tickets.peek('handoff', value)).toBeUndefined();
    expect(await repos.tickets.consume('signup', value)).toEqual({ did: 'did:plc:a', payload: { returnTo: '/x' } });
    expect(await repos.tickets.consume('signup', value)).toBeUndefined();
    const expired = await repos.tickets.issue('handoff', 'did:plc:a', {}, -1);
    expect(await repos.tickets.consume('handoff', expired)).toBeUndefined();
    await repos.tickets.issue('handoff', 'did:plc:a', {}, 600);
    expect(await repos.tickets.deleteForDid('did:plc:a')).toBe(2);
  });

  it('authorization requests: stored hashed, found, consumed once', async () => {
    await fresh();
    const { client } = await seed(repos);
    const request = { clientId: client.clientId, redirectUri: 'https://app.example/cb', redirectUriSent: true, state: 's', codeChallenge: 'c', scopes: [], wikiSlug: 'alice' };
    const id = await repos.authorizationRequests.insert(request);
    expect(await h.count('authorization_requests', `id_hash = '${sha256Hex(id)}'`)).toBe(1);
    expect(await repos.authorizationRequests.find(id)).toEqual(request);
    expect(await repos.authorizationRequests.consume(id)).toEqual(request);
    expect(await repos.authorizationRequests.consume(id)).toBeUndefined();
    expect(await repos.authorizationRequests.find(id)).toBeUndefined();
  });

  it('codes: stored hashed, read (also locked), consumed once, bound to their grant', async () => {
    await fresh();
    const { client, grantId } = await seed(repos);
    const value = await repos.codes.insert({ clientId: client.clientId, userDid: 'did:plc:alice', wikiSlug: 'alice', redirectUri: 'https://app.example/cb', redirectUriSent: true, codeChallenge: 'ch', resource: 'https://alice.wiki.test/mcp', scope: 'wiki:read' });
    const code = (await repos.codes.findByValue(value))!;
    expect(code).toMatchObject({ hash: sha256Hex(value), redirectUriSent: true, consumedAt: null, grantId: null });
    expect(code.expiresAt).toBeGreaterThan(nowSeconds());
    expect(await h.store.transaction((tx) => tx.codes.findByValueForUpdate(value))).toEqual(code);
    expect(await repos.codes.consume(code.hash, grantId)).toBe(true);
    const used = await repos.codes.findByValue(value);
    expect(used).toMatchObject({ grantId });
    expect(used?.consumedAt).toBeGreaterThan(0);
    // A second use changes nothing: not the time, not the grant it is bound to.
    const { grantId: other } = await seed(repos, 'b');
    expect(await repos.codes.consume(code.hash, other)).toBe(false);
    expect(await repos.codes.findByValue(value)).toEqual(used);
    expect(await repos.codes.findByValue('nope')).toBeUndefined();
  });

  it('clients: registration, documents that never overwrite a registration, maintained counts', async () => {
    await fresh();
    const registered = await repos.clients.insertRegistered(metadata, 'secret-hash');
    expect(registered.clientId).toMatch(/^rc_/);
    expect(await repos.clients.find(registered.clientId)).toMatchObject({ kind: 'registered', secretHash: 'secret-hash', metadata, fetchedAt: null });
    expect(await repos.clients.countUnusedRegistered()).toBe(1);
    await repos.clients.upsertDocument('https://app.example/client.json', metadata, 100, 200);
    await repos.clients.upsertDocument('https://app.example/client.json', { ...metadata, client_name: 'New' }, 150, 250);
    expect(await repos.clients.find('https://app.example/client.json')).toMatchObject({ kind: 'metadata_document', fetchedAt: 150, staleAt: 250, createdAt: 100, metadata: { client_name: 'New' } });
    expect(await repos.clients.countDocuments()).toBe(1);
    await repos.clients.upsertDocument(registered.clientId, { ...metadata, client_name: 'Hijack' }, 1, 2);
    expect(await repos.clients.find(registered.clientId)).toMatchObject({ kind: 'registered', metadata: { client_name: 'Contract client' } });
    await repos.clients.markTokenIssued(registered.clientId);
    expect((await repos.clients.find(registered.clientId))!.firstTokenAt).toBeGreaterThan(0);
    expect(await repos.clients.countUnusedRegistered()).toBe(0);
    // The last use is kept to the minute (lifetimes.ts LAST_SEEN_RESOLUTION_SECONDS): 30 s old stays, 61 s old moves.
    const id = registered.clientId;
    const recent = nowSeconds() - 30;
    await h.exec(`UPDATE oauth_clients SET first_token_at = 1000, last_used_at = ${recent} WHERE client_id = '${id}'`);
    await repos.clients.markTokenIssued(id);
    expect(await repos.clients.find(id)).toMatchObject({ firstTokenAt: 1000, lastUsedAt: recent });
    await h.exec(`UPDATE oauth_clients SET last_used_at = ${nowSeconds() - 61} WHERE client_id = '${id}'`);
    const marked = nowSeconds();
    await repos.clients.markTokenIssued(id);
    expect((await repos.clients.find(id))!.lastUsedAt).toBeGreaterThanOrEqual(marked);
    expect((await repos.clients.find(id))!.firstTokenAt).toBe(1000);
  });

  it('grants: live reads with the handle, touch, sliding expiry, connected apps, revocations', async () => {
    await fresh();
    const { grantId, client, refreshToken } = await seed(repos);
    const live = (await repos.grants.findLive(grantId))!;
    expect(live).toMatchObject({ id: grantId, clientId: client.clientId, userDid: 'did:plc:alice', wikiSlug: 'alice', handle: 'alice.test', revokedAt: null });
    await repos.grants.extend(grantId, live.expiresAt - 100);
    expect((await repos.grants.findById(grantId))!.expiresAt).toBe(live.expiresAt);
    await repos.grants.extend(grantId, live.expiresAt + 100);
    expect((await repos.grants.findById(grantId))!.expiresAt).toBe(live.expiresAt + 100);
    await h.exec(`UPDATE oauth_grants SET last_used_at = 5 WHERE id = '${grantId}'`);
    await repos.grants.touch(grantId);
    expect((await repos.grants.findById(grantId))!.lastUsedAt).toBeGreaterThan(5);
    expect(await repos.grants.listConnectedApps('did:plc:alice')).toMatchObject([{ id: grantId, clientName: 'Contract client', clientKind: 'registered', clientMetadata: metadata }]);
    expect(await repos.grants.revokeForUser(grantId, 'did:plc:mallory')).toBe(false);
    expect(await repos.grants.revokeForUser(grantId, 'did:plc:alice')).toBe(true);
    expect(await repos.grants.revoke(grantId)).toBe(false);
    expect(await repos.grants.findLive(grantId)).toBeUndefined();
    expect(await repos.refreshTokens.findByValue(refreshToken)).toBeUndefined();
    const g2 = { id: 'g2', clientId: client.clientId, userDid: 'did:plc:alice', wikiSlug: 'alice', resource: 'r', scope: 's', expiresAt: nowSeconds() + 100 };
    await repos.grants.insert(g2);
    await repos.grants.insert({ ...g2, id: 'g3' });
    await repos.refreshTokens.insert('g2', 100);
    expect(await repos.grants.revokeAllForUser('did:plc:alice')).toBe(2);
    expect(await h.count('refresh_tokens')).toBe(0);
    await repos.grants.insert({ ...g2, id: 'g4' });
    expect(await repos.grants.markRevokedForUser('did:plc:alice')).toBe(1);
  });

  it('grants: the bearer check reads the wiki, the live grant on it and the jti in one lookup; each refusal is told apart', async () => {
    await fresh();
    // Each read also through lookupBearerNow: the same answer on SQLite, none on PostgreSQL (every read a round trip).
    const lookup = async (slug: string, grant: string, jti: string) => {
      const answer = await repos.grants.lookupBearer(slug, grant, jti);
      const now = h.store.lookupBearerNow(slug, grant, jti);
      if (dialect === 'sqlite') expect(now).toEqual(answer);
      else expect(now).toBeUndefined();
      return answer;
    };
    const { grantId, client } = await seed(repos);
    await seed(repos, 'bob');
    const ok = await lookup('alice', grantId, 'jti-a');
    expect(ok).toMatchObject({ wiki: 'found', wikiSlug: 'alice', jtiRevoked: false, grant: { id: grantId, clientId: client.clientId, userDid: 'did:plc:alice', handle: 'alice.test' } });
    expect(await lookup('ALICE', grantId, 'jti-a')).toMatchObject({ wiki: 'found', wikiSlug: 'alice', grant: { id: grantId } });
    // An unknown wiki, whatever the grant.
    expect(await lookup('nowiki', grantId, 'jti-a')).toEqual({ wiki: 'missing' });
    // A token for another wiki: alice's grant presented on bob's wiki.
    expect(await lookup('bob', grantId, 'jti-a')).toMatchObject({ wiki: 'found', wikiSlug: 'bob', grant: undefined });
    // An unknown grant.
    expect(await lookup('alice', 'no-such-grant', 'jti-a')).toMatchObject({ wiki: 'found', grant: undefined });
    // A revoked jti, the grant still live.
    await repos.revokedAccessTokens.add('jti-r', nowSeconds() + 60);
    expect(await lookup('alice', grantId, 'jti-r')).toMatchObject({ wiki: 'found', jtiRevoked: true, grant: { id: grantId } });
    // An expired grant.
    await h.exec(`UPDATE oauth_grants SET expires_at = ${nowSeconds() - 1} WHERE id = '${grantId}'`);
    expect(await lookup('alice', grantId, 'jti-a')).toMatchObject({ wiki: 'found', grant: undefined, jtiRevoked: false });
    await h.exec(`UPDATE oauth_grants SET expires_at = ${nowSeconds() + 600} WHERE id = '${grantId}'`);
    expect((await lookup('alice', grantId, 'jti-a')).wiki === 'found').toBe(true);
    // A revoked grant.
    expect(await repos.grants.revoke(grantId)).toBe(true);
    expect(await lookup('alice', grantId, 'jti-a')).toMatchObject({ wiki: 'found', grant: undefined });
    // A deleted wiki (its grants cascade).
    const bobGrant = `grant-bob-live`;
    await repos.grants.insert({ id: bobGrant, clientId: client.clientId, userDid: 'did:plc:bob', wikiSlug: 'bob', resource: 'https://bob.wiki.test/mcp', scope: 'wiki:read', expiresAt: nowSeconds() + 600 });
    expect(await lookup('bob', bobGrant, 'jti-b')).toMatchObject({ wiki: 'found', grant: { id: bobGrant, handle: 'bob.test' } });
    await h.exec(`DELETE FROM wikis WHERE slug = 'bob'`);
    expect(await lookup('bob', bobGrant, 'jti-b')).toEqual({ wiki: 'missing' });
  });

  it('refresh tokens: stored hashed, read by value or hash, rotated once, sealed successors dropped', async () => {
    await fresh();
    const { grantId, refreshToken } = await seed(repos);
    const token = (await repos.refreshTokens.findByValue(refreshToken))!;
    expect(token).toMatchObject({ hash: refreshTokenHash(refreshToken), grantId, rotatedAt: null, successorHash: null });
    expect(await repos.refreshTokens.findByHash(token.hash)).toEqual(token);
    expect(await h.store.transaction((tx) => tx.refreshTokens.findByValueForUpdate(refreshToken))).toEqual(token);
    expect(await repos.refreshTokens.markRotated(token.hash, 'next')).toBe(true);
    expect(await repos.refreshTokens.markRotated(token.hash, 'other')).toBe(false);
    expect(await repos.refreshTokens.findByHash(token.hash)).toMatchObject({ successorHash: 'next', successorSealed: null });
    // A row rotated before successors were derived keeps its sealed successor until the window closes.
    await h.exec(`UPDATE refresh_tokens SET successor_sealed = 'sealed' WHERE hash = '${token.hash}'`);
    expect(await repos.refreshTokens.findByHash(token.hash)).toMatchObject({ successorHash: 'next', successorSealed: 'sealed' });
    expect(await repos.refreshTokens.dropSealedSuccessors(nowSeconds() - 10)).toBe(0);
    expect(await repos.refreshTokens.dropSealedSuccessors(nowSeconds() + 1)).toBe(1);
    expect(await repos.refreshTokens.findByHash(token.hash)).toMatchObject({ successorHash: 'next', successorSealed: null });
    const issued = await repos.refreshTokens.issue(grantId, 600);
    expect(issued.hash).toBe(refreshTokenHash(issued.value));
    // A given value (a rotation's successor) is stored under its hash.
    const given = `${'0'.repeat(11)}1${'a'.repeat(43)}`;
    expect(await repos.refreshTokens.issue(grantId, 600, given)).toEqual({ value: given, hash: refreshTokenHash(given) });
    expect(await repos.refreshTokens.findByValue(given)).toMatchObject({ grantId, rotatedAt: null });
    expect(await repos.refreshTokens.findByHash(issued.hash)).toMatchObject({ grantId, rotatedAt: null });
  });

  it('revoked access tokens and client-assertion jtis', async () => {
    await fresh();
    await repos.revokedAccessTokens.add('jti-1', nowSeconds() + 60);
    await repos.revokedAccessTokens.add('jti-1', nowSeconds() + 60);
    expect(await repos.revokedAccessTokens.isRevoked('jti-1')).toBe(true);
    expect(await repos.revokedAccessTokens.isRevoked('jti-2')).toBe(false);
    expect(await repos.clientAssertionJtis.use('c1', 'h1', nowSeconds() + 60)).toBe(true);
    expect(await repos.clientAssertionJtis.use('c1', 'h1', nowSeconds() + 60)).toBe(false);
    expect(await repos.clientAssertionJtis.use('c2', 'h1', nowSeconds() + 60)).toBe(true);
  });

  it('ATProto states and sessions: set, get, compare-and-swap re-seal, forget by app state, delete', async () => {
    await fresh();
    const now = nowSeconds();
    await repos.atprotoStates.set('k1', 'sealed-1', sha256Hex('app-state'));
    expect(await repos.atprotoStates.get('k1', now - 60)).toBe('sealed-1');
    expect(await repos.atprotoStates.get('k1', now + 60)).toBeUndefined();
    await repos.atprotoStates.set('k1', 'sealed-2', sha256Hex('app-state'));
    expect(await repos.atprotoStates.replaceValue('k1', 'sealed-1', 'x')).toBe(false);
    expect(await repos.atprotoStates.replaceValue('k1', 'sealed-2', 'sealed-3')).toBe(true);
    expect(await repos.atprotoStates.get('k1', 0)).toBe('sealed-3');
    await repos.atprotoStates.set('k2', 'v', sha256Hex('app-state'));
    expect(await repos.atprotoStates.forgetByAppState('app-state')).toBe(2);
    await repos.atprotoStates.set('k3', 'v', null);
    await repos.atprotoStates.del('k3');
    expect(await repos.atprotoStates.get('k3', 0)).toBeUndefined();

    await repos.atprotoSessions.set('did:plc:a', 's1');
    await repos.atprotoSessions.set('did:plc:a', 's2');
    expect(await repos.atprotoSessions.get('did:plc:a')).toBe('s2');
    expect(await repos.atprotoSessions.replaceValue('did:plc:a', 's1', 'x')).toBe(false);
    expect(await repos.atprotoSessions.replaceValue('did:plc:a', 's2', 's3')).toBe(true);
    await repos.atprotoSessions.del('did:plc:a');
    expect(await repos.atprotoSessions.get('did:plc:a')).toBeUndefined();
  });

  it('ATProto seal pass rows: listed when not sealed with the current prefix, overwritten (a state with its app-state hash)', async () => {
    await fresh();
    await repos.atprotoStates.set('current', 'v1.cur.x', null);
    await repos.atprotoStates.set('plain', '{"appState":"a"}', null);
    await repos.atprotoSessions.set('did:plc:cur', 'v1.cur.y');
    await repos.atprotoSessions.set('did:plc:old', 'v1.old.z');
    const states = await h.store.transaction((tx) => tx.atprotoStates.listNotSealedWith('v1.cur.'));
    expect(states).toEqual([{ key: 'plain', value: '{"appState":"a"}' }]);
    expect(await h.store.transaction((tx) => tx.atprotoSessions.listNotSealedWith('v1.cur.'))).toEqual([{ key: 'did:plc:old', value: 'v1.old.z' }]);
    await repos.atprotoStates.overwrite('plain', 'v1.cur.sealed', sha256Hex('a'));
    expect(await repos.atprotoStates.get('plain', 0)).toBe('v1.cur.sealed');
    expect(await repos.atprotoStates.forgetByAppState('a')).toBe(1);
    await repos.atprotoStates.overwrite('current', 'v1.cur.x2');
    expect(await repos.atprotoStates.get('current', 0)).toBe('v1.cur.x2');
    await repos.atprotoSessions.overwrite('did:plc:old', 'v1.cur.z2');
    expect(await repos.atprotoSessions.get('did:plc:old')).toBe('v1.cur.z2');
  });

  it("operator listings: users, clients, wikis (all or one owner's), deletions, the first wiki", async () => {
    await fresh();
    expect(await repos.operator.firstWikiSlug()).toBeUndefined();
    const { client, grantId } = await seed(repos, 'bob');
    await seed(repos, 'alice');
    await repos.sessions.insert('s', 'did:plc:bob', 600, null);
    await repos.wikis.insertCreatedByOperator('bob-two', 'did:plc:bob', nowSeconds() + 5);
    const users = await repos.operator.listUsers();
    expect(users.map((u) => u.username)).toEqual(['alice', 'bob']);
    expect(users[1]).toMatchObject({ did: 'did:plc:bob', handle: 'bob.test', displayName: 'bob', wikis: 2, liveSessions: 1, liveGrants: 1 });
    const clients = await repos.operator.listClients();
    expect(clients).toHaveLength(2);
    expect(clients.find((c) => c.clientId === client.clientId)).toMatchObject({ kind: 'registered', clientName: 'Contract client', tokenEndpointAuthMethod: 'none', redirectUris: ['https://app.example/cb'], liveGrants: 1, firstTokenAt: null });
    expect((await repos.operator.listWikis(null)).map((w) => w.slug)).toEqual(['alice', 'bob', 'bob-two']);
    expect(await repos.operator.listWikis('did:plc:bob')).toMatchObject([
      { slug: 'bob', ownerDid: 'did:plc:bob', ownerUsername: 'bob', liveGrants: 1 },
      { slug: 'bob-two', ownerUsername: 'bob', liveGrants: 0 },
    ]);
    await h.exec("UPDATE wikis SET created_at = created_at - 10 WHERE slug = 'bob'");
    expect(await repos.operator.firstWikiSlug()).toBe('bob');
    await repos.grants.revoke(grantId);
    const wiki = (await repos.wikis.findBySlug('bob-two'))!;
    await h.store.transaction((tx) => tx.wikis.remove(wiki, 'bob', 'owner', 1000));
    await repos.users.recordDeletion({ did: 'did:plc:x', username: 'x', createdAt: 1, deletedAt: 2000, wikis: ['x'], grantsRevoked: 0, sessionsRevoked: 3, pdsRevoked: false });
    expect(await repos.operator.listDeletedWikis()).toEqual([{ slug: 'bob-two', ownerUsername: 'bob', ownerDid: 'did:plc:bob', reason: 'owner', grantsRevoked: 0, createdAt: wiki.createdAt, deletedAt: 1000 }]);
    expect(await repos.operator.listDeletedUsers()).toEqual([{ username: 'x', did: 'did:plc:x', wikis: 'x', grantsRevoked: 0, sessionsRevoked: 3, pdsRevoked: false, createdAt: 1, deletedAt: 2000 }]);
  });

  it('audit: entries listed newest first with filters; a failed insert inside a transaction rolls back only itself', async () => {
    await fresh();
    await repos.audit.insert({ event: 'sign_in', did: 'did:plc:a', actor: 'person', address: '127.0.0.1', detail: { n: 1 } }, 100);
    await repos.audit.insert({ event: 'grant_revoked', did: 'did:plc:b', clientId: 'c1' }, 200);
    await repos.audit.insert({ event: 'sign_out', did: 'did:plc:a' }, 300);
    expect((await repos.audit.list()).map((e) => e.event)).toEqual(['sign_out', 'grant_revoked', 'sign_in']);
    expect(await repos.audit.list({ did: 'did:plc:a', since: 150 })).toMatchObject([{ event: 'sign_out', at: 300, detail: null }]);
    expect(await repos.audit.list({ clientId: 'c1' })).toMatchObject([{ event: 'grant_revoked', did: 'did:plc:b' }]);
    expect((await repos.audit.list({ limit: 1 })).length).toBe(1);
    expect((await repos.audit.list({ did: 'did:plc:a' })).at(-1)).toMatchObject({ address: '127.0.0.1', actor: 'person', detail: { n: 1 } });

    await h.store.transaction(async (tx) => {
      await tx.revokedAccessTokens.add('kept', nowSeconds() + 60);
      // event is NOT NULL: this insert fails, in its own savepoint.
      await expect(tx.audit.insert({ event: null as unknown as 'sign_in' })).rejects.toThrow();
      await tx.revokedAccessTokens.add('kept-too', nowSeconds() + 60);
    });
    expect(await repos.revokedAccessTokens.isRevoked('kept')).toBe(true);
    expect(await repos.revokedAccessTokens.isRevoked('kept-too')).toBe(true);
  });

  it('purge deletes what can no longer matter and keeps the rest', async () => {
    await fresh();
    const { grantId, client } = await seed(repos);
    const now = nowSeconds();
    await repos.tickets.issue('handoff', 'did:plc:alice', {}, -5);
    await repos.tickets.issue('handoff', 'did:plc:alice', {}, 600);
    await repos.sessions.insert('dead', 'did:plc:alice', -5, null);
    await repos.sessions.insert('live', 'did:plc:alice', 600, null);
    await repos.revokedAccessTokens.add('old', now - 5);
    await repos.revokedAccessTokens.add('new', now + 600);
    await repos.clientAssertionJtis.use('c', 'old', now - 5);
    await repos.reservedNames.reserve('held', 1, 'wiki_deleted', null, now - 2 * DAY);
    await repos.atprotoStates.set('old', 'v', null);
    await h.exec(`UPDATE atproto_auth_states SET created_at = ${now - 2 * 3600}`);
    await repos.atprotoSessions.set('did:plc:stranger', 'v');
    await h.exec(`UPDATE atproto_sessions SET updated_at = ${now - 2 * DAY}`);
    await repos.audit.insert({ event: 'sign_in' }, now - 100 * DAY);
    await repos.audit.insert({ event: 'sign_in' }, now);
    const idle = await repos.clients.insertRegistered(metadata, null);
    await h.exec(`UPDATE oauth_clients SET created_at = ${now - 10 * DAY} WHERE client_id = '${idle.clientId}'`);
    // Each keep-window of src/db/purge.ts, just inside and just outside: the two stores must agree on every one.
    await repos.atprotoSessions.set('did:plc:alice', 'kept: a user of ours');
    await h.exec(`UPDATE atproto_sessions SET updated_at = ${now - 2 * DAY}`);
    await repos.atprotoStates.set('recent', 'v', null);
    await h.exec(`UPDATE atproto_auth_states SET created_at = ${now - 30 * 60} WHERE key = 'recent'`);
    await repos.sessions.insert('revoked-long-ago', 'did:plc:alice', 600, null);
    await repos.sessions.insert('revoked-recently', 'did:plc:alice', 600, null);
    await h.exec(`UPDATE sessions SET revoked_at = ${now - 2 * DAY} WHERE id = 'revoked-long-ago'`);
    await h.exec(`UPDATE sessions SET revoked_at = ${now - 3600} WHERE id = 'revoked-recently'`);
    const codeInput = { clientId: client.clientId, userDid: 'did:plc:alice', wikiSlug: 'alice', redirectUri: 'https://app.example/cb', redirectUriSent: true, codeChallenge: 'c', resource: 'r', scope: 's' };
    const oldCode = await repos.codes.insert(codeInput);
    const recentCode = await repos.codes.insert(codeInput);
    await h.exec(`UPDATE authorization_codes SET expires_at = ${now - 2 * 3600} WHERE hash = '${sha256Hex(oldCode)}'`);
    await h.exec(`UPDATE authorization_codes SET expires_at = ${now - 30 * 60} WHERE hash = '${sha256Hex(recentCode)}'`);
    const longRotated = await repos.refreshTokens.insert(grantId, REFRESH_TTL);
    const recentlyRotated = await repos.refreshTokens.insert(grantId, REFRESH_TTL);
    await h.exec(`UPDATE refresh_tokens SET rotated_at = ${now - 8 * DAY} WHERE hash = '${refreshTokenHash(longRotated)}'`);
    await h.exec(`UPDATE refresh_tokens SET rotated_at = ${now - 6 * DAY} WHERE hash = '${refreshTokenHash(recentlyRotated)}'`);
    const grant = { clientId: client.clientId, userDid: 'did:plc:alice', wikiSlug: 'alice', resource: 'r', scope: 's', expiresAt: now + DAY };
    await repos.grants.insert({ ...grant, id: 'revoked-long-ago' });
    await repos.grants.insert({ ...grant, id: 'revoked-recently' });
    await h.exec(`UPDATE oauth_grants SET revoked_at = ${now - 2 * DAY} WHERE id = 'revoked-long-ago'`);
    await h.exec(`UPDATE oauth_grants SET revoked_at = ${now - 3600} WHERE id = 'revoked-recently'`);
    const counts = await repos.purge.expired({ clientIdleSeconds: 30 * DAY, unusedClientSeconds: DAY });
    expect(counts).toMatchObject({
      sign_in_tickets: 1,
      sessions: 2,
      authorization_codes: 1,
      revoked_access_tokens: 1,
      client_assertion_jtis: 1,
      reserved_names: 1,
      atproto_auth_states: 1,
      atproto_sessions: 1,
      audit_log: 1,
      oauth_clients: 1,
      oauth_grants: 1,
      refresh_tokens: 1,
    });
    expect(await repos.clients.find(client.clientId)).toBeDefined(); // it holds a grant
    expect(await repos.grants.findLive(grantId)).toBeDefined();
    expect(await repos.grants.findById('revoked-recently')).toBeDefined();
    expect(await repos.refreshTokens.findByValue(recentlyRotated)).toBeDefined();
    expect(await repos.codes.findByValue(recentCode)).toBeDefined();
    expect(await repos.atprotoSessions.get('did:plc:alice')).toBeDefined();
    expect(await repos.atprotoStates.get('recent', 0)).toBeDefined();
    expect(await h.count('sessions')).toBe(2);
  });

  describe('transactions', () => {
    it('a failing transaction leaves no partial write', async () => {
      await fresh();
      const { grantId, refreshToken } = await seed(repos);
      await expect(
        h.store.transaction(async (tx) => {
          await tx.grants.revoke(grantId);
          await tx.revokedAccessTokens.add('in-failed-tx', nowSeconds() + 60);
          await tx.users.insertWithFirstWiki({ did: 'did:plc:z', handle: 'z', displayName: null, username: 'zed' });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await repos.grants.findLive(grantId)).toBeDefined();
      expect(await repos.refreshTokens.findByValue(refreshToken)).toBeDefined();
      expect(await repos.revokedAccessTokens.isRevoked('in-failed-tx')).toBe(false);
      expect(await repos.users.findByDid('did:plc:z')).toBeUndefined();
      expect(await h.count('wikis', "slug = 'zed'")).toBe(0);
    });

    it('a `tx` refuses calls once its transaction has ended', async () => {
      await fresh();
      let leaked: Repositories | undefined;
      await h.store.transaction(async (tx) => {
        leaked = tx;
      });
      await expect(leaked!.revokedAccessTokens.isRevoked('x')).rejects.toThrow(/after its transaction ended/);
    });

    it('a write outside a transaction is neither inside it nor rolled back with it', async () => {
      await fresh();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const failing = h.store.transaction(async (tx) => {
        await tx.revokedAccessTokens.add('inside', nowSeconds() + 60);
        entered();
        await gate;
        throw new Error('rolled back');
      });
      await inside;
      const outside = repos.revokedAccessTokens.add('outside', nowSeconds() + 60);
      // On SQLite the outside write waits for the transaction (one connection); on PostgreSQL it commits at once.
      await sleep(50);
      release();
      await expect(failing).rejects.toThrow('rolled back');
      await outside;
      expect(await repos.revokedAccessTokens.isRevoked('outside')).toBe(true);
      expect(await repos.revokedAccessTokens.isRevoked('inside')).toBe(false);
    });

    it('store.repos or a nested transaction inside a callback rejects at once instead of waiting for itself', async () => {
      await fresh();
      const outcome = await h.store.transaction(async (tx) => {
        await tx.revokedAccessTokens.add('inside', nowSeconds() + 60);
        const direct = await repos.revokedAccessTokens.isRevoked('inside').catch((e: Error) => e.message);
        const nested = await h.store.transaction(async () => 'nested').catch((e: Error) => e.message);
        return { direct, nested };
      });
      expect(outcome.direct).toMatch(/inside a transaction callback; use the `tx`/);
      expect(outcome.nested).toMatch(/inside a transaction callback/);
      // The transaction itself went on and committed; outside it, store.repos works.
      expect(await repos.revokedAccessTokens.isRevoked('inside')).toBe(true);
    });

    it('two interleaved transactions both commit, each seeing a consistent state', async () => {
      await fresh();
      const events: string[] = [];
      const run = (name: string) =>
        h.store.transaction(async (tx) => {
          events.push(`${name}:begin`);
          const before = await tx.clientAssertionJtis.use('c', 'shared', nowSeconds() + 60);
          await sleep(20);
          await tx.revokedAccessTokens.add(name, nowSeconds() + 60);
          events.push(`${name}:end`);
          return before;
        });
      const results = await Promise.all([run('t1'), run('t2')]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await repos.revokedAccessTokens.isRevoked('t1')).toBe(true);
      expect(await repos.revokedAccessTokens.isRevoked('t2')).toBe(true);
      // SQLite: one connection, so the second transaction starts only after the first has ended.
      if (h.dialect === 'sqlite') expect(events).toEqual(['t1:begin', 't1:end', 't2:begin', 't2:end']);
    });
  });

  describe('concurrency (issue 12 item 2)', () => {
    /** seed()'s person and client, a fresh authorization code of theirs, and the token request that exchanges it. */
    async function seedCode() {
      const { did, client } = await seed(repos);
      return { client, ...(await codeFor(did, client.clientId)) };
    }

    /** The store under test, with some methods of one repository replaced inside its transactions (`made` gets the transaction's own). */
    function storeWith<K extends keyof Repositories>(key: K, made: (original: Repositories[K]) => Partial<Repositories[K]>): Store {
      return {
        ...h.store,
        transaction: (fn) => h.store.transaction((tx) => fn({ ...tx, [key]: Object.assign(Object.create(tx[key]) as Repositories[K], made(tx[key])) })),
      };
    }

    /** A fresh code of alice's for `clientId`, and its exchange's form. */
    async function codeFor(did: string, clientId: string) {
      const verifier = crypto.randomBytes(32).toString('base64url');
      const resource = 'https://alice.wiki.test/mcp';
      const code = await repos.codes.insert({
        clientId,
        userDid: did,
        wikiSlug: 'alice',
        redirectUri: 'https://app.example/cb',
        redirectUriSent: true,
        codeChallenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
        resource,
        scope: 'wiki:read',
      });
      const params = tokenForm({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example/cb', resource });
      return { code, params };
    }

    it('50 concurrent refreshes of one token (refreshAccessToken; two instances on PostgreSQL): one rotation, the same successor for all, no revocation', async () => {
      await fresh();
      const { grantId, client, refreshToken } = await seed(repos);
      const a = contextOn(h.store);
      const b = contextOn(h.another());
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => refreshAccessToken(i % 2 === 0 ? a : b, client, tokenForm({ grant_type: 'refresh_token', refresh_token: refreshToken }))),
      );
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
      const answers = outcomes.map((o) => (o as PromiseFulfilledResult<Awaited<ReturnType<typeof refreshAccessToken>>>).value);
      expect(new Set(answers.map((r) => r.refresh_token)).size).toBe(1);
      expect(answers[0]!.refresh_token).not.toBe(refreshToken);
      // The presented token and its one successor; the grant is live and nothing was audited as a replay.
      expect(await h.count('refresh_tokens', `grant_id = '${grantId}'`)).toBe(2);
      expect(await h.count('refresh_tokens', `grant_id = '${grantId}' AND rotated_at IS NOT NULL`)).toBe(1);
      expect(await repos.grants.findLive(grantId)).toBeDefined();
      expect(await h.count('audit_log', `client_id = '${client.clientId}'`)).toBe(0);
      // Every answer's access token is for the grant.
      expect((await app.ctx.accessTokens.verify(answers[49]!.access_token, undefined))?.clientId).toBe(client.clientId);
    }, 60_000);

    it('20 concurrent exchanges of one code (exchangeAuthorizationCode; two instances on PostgreSQL) issue one grant; the others are replays that revoke it', async () => {
      await fresh();
      const { client, params } = await seedCode();
      const a = contextOn(h.store);
      const b = contextOn(h.another());
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => exchangeAuthorizationCode(i % 2 === 0 ? a : b, client, params)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(refused).toHaveLength(19);
      for (const r of refused) expect(r.reason).toMatchObject({ code: 'invalid_grant', message: 'The authorization code was already used.' });
      // seed()'s grant and the code's, which the replays revoked.
      expect(await h.count('oauth_grants', `client_id = '${client.clientId}'`)).toBe(2);
      expect(await h.count('oauth_grants', `client_id = '${client.clientId}' AND revoked_at IS NOT NULL`)).toBe(1);
      expect(await h.count('audit_log', `client_id = '${client.clientId}' AND event = 'code_replay_detected'`)).toBe(19);
      expect(await h.count('oauth_clients', `client_id = '${client.clientId}' AND first_token_at IS NOT NULL`)).toBe(1);
    }, 60_000);

    it('an exchange whose compare-and-swap on the code loses writes nothing: the grant it inserted first is rolled back', async () => {
      await fresh();
      const { client, code, params } = await seedCode();
      // The row lock makes a lost compare-and-swap impossible through the store; a store whose
      // consume always loses stands for it.
      const losing = storeWith('codes', () => ({ consume: async () => false }));
      await expect(exchangeAuthorizationCode(contextOn(losing), client, params)).rejects.toMatchObject({ code: 'invalid_grant', message: 'The authorization code was already used.' });
      expect(await h.count('oauth_grants', `client_id = '${client.clientId}'`)).toBe(1); // seed()'s only
      expect(await repos.codes.findByValue(code)).toMatchObject({ consumedAt: null, grantId: null });
      // Unconsumed, the code still works once.
      expect((await exchangeAuthorizationCode(contextOn(h.store), client, params)).refresh_token).toBeTruthy();
      expect(await h.count('oauth_grants', `client_id = '${client.clientId}'`)).toBe(2);
    }, 60_000);

    it("an exchange records the client's first token, and its last use only when the record read for the request is a minute old", async () => {
      await fresh();
      const marks: string[] = [];
      const counting = storeWith('clients', (clients) => ({
        markTokenIssued: async (clientId: string) => {
          marks.push(clientId);
          await clients.markTokenIssued(clientId);
        },
      }));
      const { did, client } = await seed(repos);
      const id = client.clientId;
      const exchange = async () => {
        const { params } = await codeFor(did, id);
        await exchangeAuthorizationCode(contextOn(counting), (await repos.clients.find(id))!, params);
      };
      // First token: written, though the client has no last use to compare.
      await exchange();
      expect(marks).toEqual([id]);
      expect(await h.count('oauth_clients', `client_id = '${id}' AND first_token_at IS NOT NULL AND last_used_at IS NOT NULL`)).toBe(1);
      // Recorded within the minute: the record read for the request says so, and no statement runs.
      await h.exec(`UPDATE oauth_clients SET first_token_at = ${nowSeconds() - 30}, last_used_at = ${nowSeconds() - 30} WHERE client_id = '${id}'`);
      await exchange();
      expect(marks).toEqual([id]);
      // A minute old: written again.
      await h.exec(`UPDATE oauth_clients SET last_used_at = ${nowSeconds() - 61} WHERE client_id = '${id}'`);
      await exchange();
      expect(marks).toEqual([id, id]);
      expect(await h.count('oauth_clients', `client_id = '${id}' AND last_used_at >= ${nowSeconds() - 5}`)).toBe(1);
    }, 60_000);

    it('a client-assertion jti and a ticket are used once under 50 concurrent attempts', async () => {
      await fresh();
      const b = h.another();
      const exp = nowSeconds() + 60;
      const uses = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? h.store : b).repos.clientAssertionJtis.use('c', 'jti', exp)));
      expect(uses.filter(Boolean)).toHaveLength(1);
      const ticket = await repos.tickets.issue('signup', 'did:plc:a', {}, 600);
      const taken = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? h.store : b).repos.tickets.consume('signup', ticket)));
      expect(taken.filter((t) => t !== undefined)).toHaveLength(1);
    });

    it('concurrent wiki creations under lockCreation never exceed the daily cap or the per-person limit', async () => {
      await fresh();
      const b = h.another();
      for (const name of ['p1', 'p2', 'p3', 'p4']) await repos.users.insertWithFirstWiki({ did: `did:plc:${name}`, handle: name, displayName: null, username: name });
      const cap = 7; // 4 first wikis exist: 3 more may be created today
      const perPerson = 2;
      // create-wiki.ts's unit of work: lock, check both caps, insert.
      const create = (store: Store, did: string, slug: string) =>
        store.transaction(async (tx) => {
          await tx.wikis.lockCreation();
          if ((await tx.wikis.countByOwner(did)) >= perPerson) return 'limit';
          if ((await tx.wikis.newWikisPausedUntil(cap)) !== undefined) return 'paused';
          await sleep(2); // a request's other reads; widens the race the lock closes
          await tx.wikis.insertCreatedByPerson(slug, did, nowSeconds());
          return 'created';
        });
      const attempts = Array.from({ length: 24 }, (_, i) => create(i % 2 === 0 ? h.store : b, `did:plc:p${(i % 4) + 1}`, `w${i}`));
      const results = await Promise.all(attempts);
      expect(results.filter((r) => r === 'created')).toHaveLength(3);
      expect(await h.count('wikis')).toBe(cap);
      for (const name of ['p1', 'p2', 'p3', 'p4']) expect(await repos.wikis.countByOwner(`did:plc:${name}`)).toBeLessThanOrEqual(perPerson);
    });

    it('concurrent registrations under lockCaps never exceed MAX_UNUSED_CLIENTS', async () => {
      await fresh();
      const b = h.another();
      const cap = 5;
      // /register's unit of work (client-caps.ts assertRoomForRegistration, then the insert).
      const register = (store: Store) =>
        store.transaction(async (tx) => {
          await tx.clients.lockCaps();
          if ((await tx.clients.countUnusedRegistered()) >= cap) return 'full';
          await sleep(2);
          await tx.clients.insertRegistered(metadata, null);
          return 'registered';
        });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => register(i % 2 === 0 ? h.store : b)));
      expect(results.filter((r) => r === 'registered')).toHaveLength(cap);
      expect(await repos.clients.countUnusedRegistered()).toBe(cap);
      expect(await h.count('oauth_clients')).toBe(cap);
    });

    it('the ATProto request lock makes the second holder of a name wait for the first, across instances', async () => {
      await fresh();
      const b = h.another();
      const events: string[] = [];
      const first = h.store.requestLock('did:plc:a', async () => {
        events.push('a:in');
        await sleep(300);
        events.push('a:out');
        return 'a';
      });
      await sleep(50);
      const other = b.requestLock('did:plc:other', async () => void events.push('other'));
      const second = b.requestLock('did:plc:a', async () => {
        events.push('b:in');
        return 'b';
      });
      expect(await Promise.all([first, second, other])).toEqual(['a', 'b', undefined]);
      expect(events).toEqual(['a:in', 'other', 'a:out', 'b:in']);
      // A holder that throws still releases the lock.
      await expect(h.store.requestLock('did:plc:a', () => Promise.reject(new Error('refresh failed')))).rejects.toThrow('refresh failed');
      expect(await b.requestLock('did:plc:a', async () => 'after')).toBe('after');
    });
  });
});

describe('PostgreSQL only', () => {
  it('the ATProto request lock gives up after its timeout with a message naming the lock', async () => {
    const h = await postgresHarness();
    try {
      const impatient = h.another({ lockTimeoutMs: 100 });
      const holding = h.store.requestLock('did:plc:busy', () => sleep(600));
      // The lock is PostgreSQL's (two Stores in one process share no memory lock). Wait until it is
      // granted (a loaded machine may take longer than a fixed sleep).
      for (let i = 0; i < 100 && (await h.count('pg_locks', "locktype = 'advisory' AND granted")) === 0; i++) await sleep(10);
      expect(await h.count('pg_locks', "locktype = 'advisory' AND granted")).toBe(1);
      const err = await Promise.resolve(impatient.requestLock('did:plc:busy', async () => 'never')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AtprotoLockTimeout);
      expect((err as Error).message).toContain('did:plc:busy');
      await holding;
      expect(await h.count('pg_locks', "locktype = 'advisory'")).toBe(0);
      expect(await impatient.requestLock('did:plc:busy', async () => 'free again')).toBe('free again');
    } finally {
      await h.close();
    }
  });

  it('retries a transaction that lost a deadlock, and the retried callback commits', async () => {
    const h = await postgresHarness();
    try {
      const { grantId } = await seed(h.store.repos);
      const x = await h.store.repos.refreshTokens.insert(grantId, 600);
      const y = await h.store.repos.refreshTokens.insert(grantId, 600);
      const b = h.another();
      let calls = 0;
      // Two transactions lock x and y in opposite orders: PostgreSQL aborts one with 40P01 (after
      // deadlock_timeout, 1 s), and the store runs that callback again, which then commits.
      const lockBoth = (store: Store, first: string, second: string, mark: string) =>
        store.transaction(async (tx) => {
          calls++;
          await tx.refreshTokens.findByValueForUpdate(first);
          await sleep(100);
          await tx.refreshTokens.findByValueForUpdate(second);
          await tx.revokedAccessTokens.add(mark, nowSeconds() + 60);
          return mark;
        });
      expect(await Promise.all([lockBoth(h.store, x, y, 'xy'), lockBoth(b, y, x, 'yx')])).toEqual(['xy', 'yx']);
      expect(calls).toBe(3);
      expect(await h.store.repos.revokedAccessTokens.isRevoked('xy')).toBe(true);
      expect(await h.store.repos.revokedAccessTokens.isRevoked('yx')).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('openStore picks SQLite without DATABASE_URL and PostgreSQL with one, and refuses other URLs', async () => {
    const file = path.join(tmp, 'open-store.sqlite');
    const db = openDatabase(file);
    migrate(db); // the runner migrates before a store is opened
    db.close();
    const sqlite = openStore({ databaseFile: file, databaseUrl: undefined });
    expect(sqlite.dialect).toBe('sqlite');
    await sqlite.close();
    const url = await server!.createDatabase();
    const postgres = openStore({ databaseFile: 'unused', databaseUrl: url, databasePoolSize: 2 });
    expect(postgres.dialect).toBe('postgres');
    await postgres.ping();
    await postgres.close();
    expect(() => openStore({ databaseFile: 'x', databaseUrl: 'mysql://h/db' })).toThrow(/postgres:\/\//);
  });
});
