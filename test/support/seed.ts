// The one seed module: rows put straight into the database, as a PDS sign-in, a signup, a
// registration or a consent would have created them, through the Store's repositories
// (src/storage/store.ts), so the rows look like the service's own and land in whichever store the
// app uses (SQLite, or PostgreSQL in the `postgres` vitest project). Users, wikis, clients, grants,
// refresh and access tokens, sessions (a row, or a signed-in browser), and a data directory without
// a running app. Everything takes a Store, or anything holding one (an AppContext, a TestApp's ctx,
// TempData), and is async.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { cookieNames } from '../../src/accounts/cookies.ts';
import { createSession } from '../../src/accounts/session.ts';
import type { User } from '../../src/accounts/users.repo.ts';
import { parseConfig, type Config } from '../../src/config/env.ts';
import type { AppContext } from '../../src/context.ts';
import { migrate } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase, type Db } from '../../src/db/open.ts';
import { signAccessToken } from '../../src/oauth/tokens/access-token.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { migratePostgres } from '../../src/db/postgres/migrate.ts';
import { openStore } from '../../src/storage/open-store.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import type { Repositories, Store } from '../../src/storage/store.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';
import type { TestApp } from './app.ts';
import { browser, type Browser } from './browser-flow.ts';
import { createTestDatabase, onPostgres } from './test-database.ts';

/** A Store, anything that holds one, or a transaction's repositories (`store.transaction(async (tx) => seedUser(tx))`). */
export type SeedTarget = Store | { store: Store } | Repositories;
const reposOf = (target: SeedTarget): Repositories => ('store' in target ? target.store.repos : 'repos' in target ? target.repos : target);

// ── A data directory without an app (CLI, backup and migration tests) ─────────────────────────

export interface TempData {
  dir: string;
  config: Config;
  /** The SQLite database (CLI, backup and migration tests read it as the admin CLI does). */
  db: Db;
  /** The SQLite store over `db` (what the seeds write through); follows `db` when a test reopens it. */
  readonly store: Store;
  /** Closes the database and deletes the directory. */
  cleanup(): void;
}

/** A data directory with a migrated SQLite database (the config is development-mode, port 3000 unless given). */
export function tempData(env: Record<string, string> = {}): TempData {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-ops-'));
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', ...env });
  const db = openDatabase(config.databaseFile);
  migrate(db);
  // Over the same connection; the store never closes it (cleanup does).
  const stores = new WeakMap<Db, Store>();
  const data: TempData = {
    dir,
    config,
    db,
    get store() {
      let store = stores.get(data.db);
      if (!store) stores.set(data.db, (store = createSqliteStore(data.db, { closeDatabase: false })));
      return store;
    },
    cleanup() {
      if (data.db.open) data.db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return data;
}

/**
 * A data directory and a migrated database on the store of this vitest project (./test-database.ts):
 * its SQLite file, or in the `postgres` project a fresh PostgreSQL database. `env` is what a server
 * process or the admin CLI started on it needs beside DATA_DIR (DATABASE_URL on PostgreSQL).
 */
export interface TempStoreData {
  dir: string;
  config: Config;
  store: Store;
  env: Record<string, string>;
  /** Closes the store (if the test has not), drops the database and deletes the directory. */
  cleanup(): Promise<void>;
}

export async function tempStoreData(env: Record<string, string> = {}): Promise<TempStoreData> {
  if (!onPostgres()) {
    const t = tempData(env);
    return { dir: t.dir, config: t.config, store: t.store, env: {}, cleanup: async () => t.cleanup() };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-ops-'));
  const database = await createTestDatabase();
  const storeEnv = { DATABASE_URL: database.url };
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', ...storeEnv, ...env });
  const pool = createPool({ url: database.url, poolSize: 1 });
  try {
    await migratePostgres(pool);
  } finally {
    await pool.end();
  }
  const store = openStore(config);
  return {
    dir,
    config,
    store,
    env: storeEnv,
    async cleanup() {
      // A test may have closed it already (to leave the database to server processes).
      await store.close().catch(() => undefined);
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ── People and wikis ──────────────────────────────────────────────────────────────────────────

let seq = 0;

/** A user with their first wiki (slug = username), as signup creates them. */
export async function seedUser(
  target: SeedTarget,
  username = `user${++seq}${crypto.randomBytes(3).toString('hex')}`,
  did = `did:plc:${username}${crypto.randomBytes(4).toString('hex')}`,
): Promise<User> {
  const user = await reposOf(target).users.insertWithFirstWiki({ did, handle: `${username}.test`, displayName: null, username });
  if (user === 'taken') throw new Error(`seedUser: username ${username} is taken`);
  return user;
}

/** Another wiki owned by `ownerDid` (what "New wiki" on the account page creates). */
export async function seedWiki(target: SeedTarget, slug: string, ownerDid: string, createdAt = nowSeconds()): Promise<void> {
  await reposOf(target).wikis.insertCreatedByPerson(slug, ownerDid, createdAt);
}

// ── Clients ───────────────────────────────────────────────────────────────────────────────────

/** A registered public client (as Claude Code registers); returns its generated client_id. */
export async function seedClient(target: SeedTarget, name = 'Claude Code'): Promise<string> {
  const client = await reposOf(target).clients.insertRegistered(
    {
      client_name: name,
      redirect_uris: ['http://localhost:54321/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    null,
  );
  return client.clientId;
}

/**
 * A registered public client under a fixed client_id (tests that name it in expectations). No
 * repository inserts a client under a chosen id (registration generates it), so this one row is
 * written with SQL over a second connection to the target's database: its SQLite file, or its
 * PostgreSQL database (DATABASE_URL).
 */
export async function seedClientWithId(
  target: { config: Pick<Config, 'databaseFile' | 'databaseUrl'> },
  clientId: string,
  redirectUri = 'http://localhost/cb',
  createdAt = nowSeconds(),
): Promise<string> {
  const metadata = JSON.stringify({
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  });
  const { databaseUrl, databaseFile } = target.config;
  if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query("INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at) VALUES ($1, 'registered', NULL, $2, $3)", [clientId, metadata, createdAt]);
    } finally {
      await client.end();
    }
  } else {
    const db = openDatabase(databaseFile);
    try {
      db.prepare("INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at) VALUES (?, 'registered', NULL, ?, ?)").run(clientId, metadata, createdAt);
    } finally {
      db.close();
    }
  }
  return clientId;
}

// ── Grants and tokens ─────────────────────────────────────────────────────────────────────────

export interface SeededGrant {
  grantId: string;
  /** A live refresh token of the grant (only its hash is stored); '' when asked for none. */
  refreshToken: string;
}

/** A consented grant of `did` for `clientId` on wiki `slug`, with one refresh token (REFRESH_TOKEN_TTL_SECONDS). */
export async function seedGrant(
  target: SeedTarget,
  config: Config,
  input: { did: string; slug: string; clientId: string; scope?: string; id?: string; expiresAt?: number; refreshToken?: boolean },
): Promise<SeededGrant> {
  const repos = reposOf(target);
  const grantId = input.id ?? crypto.randomUUID();
  await repos.grants.insert({
    id: grantId,
    clientId: input.clientId,
    userDid: input.did,
    wikiSlug: input.slug,
    resource: wikiMcpUrl(config, input.slug),
    scope: input.scope ?? 'wiki:read wiki:write',
    expiresAt: input.expiresAt ?? nowSeconds() + config.refreshTokenTtlSeconds,
  });
  if (input.refreshToken === false) return { grantId, refreshToken: '' };
  return { grantId, refreshToken: await repos.refreshTokens.insert(grantId, config.refreshTokenTtlSeconds) };
}

/** An access token for a grant, signed as the token endpoint would sign it. */
export async function mintAccessToken(
  ctx: Pick<AppContext, 'config' | 'platformKeys'>,
  grant: { grantId: string; did: string; slug: string; clientId: string; scope: string },
): Promise<{ token: string; jti: string }> {
  const issued = await signAccessToken(
    { config: ctx.config, keys: ctx.platformKeys },
    { did: grant.did, resource: wikiMcpUrl(ctx.config, grant.slug), clientId: grant.clientId, scope: grant.scope, grantId: grant.grantId },
  );
  return { token: issued.token, jti: issued.jti };
}

// ── Sessions ──────────────────────────────────────────────────────────────────────────────────

/** A browser-session row under a known id (for tests that list or revoke sessions, not sign in with them). */
export async function seedSession(target: SeedTarget, did: string, ttlSeconds = 3600): Promise<string> {
  const id = crypto.randomBytes(16).toString('base64url');
  await reposOf(target).sessions.insert(id, did, ttlSeconds, 'test');
  return id;
}

/** A real session (sign-in's own createSession): returns the cookie value, and its cookie name for this config. */
export async function seedSignedInSession(ctx: Pick<AppContext, 'config' | 'store'>, user: Pick<User, 'did'>, userAgent = 'test'): Promise<{ name: string; value: string }> {
  const value = await createSession(ctx, user, userAgent);
  return { name: cookieNames(ctx.config).session, value };
}

export interface Person {
  did: string;
  handle: string;
  /** Also the slug of their wiki. */
  username: string;
  /** The wiki's RFC 8707 resource identifier: http://{username}.localhost:PORT/mcp */
  mcpUrl: string;
  /** A browser signed in as this person (session cookie in its jar). */
  browser: Browser;
}

/** A person with an account and a wiki, signed in in a fresh browser, as if they had signed up. */
export async function seedPerson(app: TestApp, username: string, userAgent = 'conformance'): Promise<Person> {
  const user = await seedUser(app.ctx, username);
  const session = await seedSignedInSession(app.ctx, user, userAgent);
  const b = browser(app);
  b.jar.set(session.name, session.value);
  return { did: user.did, handle: user.handle, username, mcpUrl: wikiMcpUrl(app.config, username), browser: b };
}

// ── A fixed cast: alice and bob ───────────────────────────────────────────────────────────────

export const ALICE = { did: 'did:plc:alice0000000000000000000', handle: 'alice.test' };
export const BOB = { did: 'did:plc:bob000000000000000000000', handle: 'bob.test' };

/** Users alice and bob (fixed DIDs), their wikis `alice` and `bob`, and one registered public client `clientId`. */
export async function seedAliceAndBob(
  target: { store: Store; config: Pick<Config, 'databaseFile' | 'databaseUrl'> },
  clientId: string,
): Promise<{ now: number; alice: typeof ALICE; bob: typeof BOB }> {
  await seedUser(target, 'alice', ALICE.did);
  await seedUser(target, 'bob', BOB.did);
  await seedClientWithId(target, clientId);
  // created_at as the rows above: the seeds run within one second.
  return { now: nowSeconds(), alice: { ...ALICE }, bob: { ...BOB } };
}
