// The one seed module: rows put straight into the database, as a PDS sign-in, a signup, a
// registration or a consent would have created them, through the repositories where they have the
// method, so the rows look like the service's own. Users, wikis, clients, grants, refresh and access
// tokens, sessions (a row, or a signed-in browser), and a data directory without a running app.
// Everything takes the database (a Db, or anything holding one: an AppContext, a TestApp's ctx, TempData).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cookieNames } from '../../src/accounts/cookies.ts';
import { randomToken, sha256Hex } from '../../src/lib/secrets.ts';
import { sessionLifetime } from '../../src/lifetimes.ts';
import { createSessionsRepo } from '../../src/accounts/sessions.repo.ts';
import { createUsersRepo, type User } from '../../src/accounts/users.repo.ts';
import { parseConfig, type Config } from '../../src/config/env.ts';
import type { AppContext } from '../../src/context.ts';
import { migrate } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase, type Db } from '../../src/db/open.ts';
import { createClientsRepo } from '../../src/oauth/clients/clients.repo.ts';
import { createGrantsRepo } from '../../src/oauth/grants/grants.repo.ts';
import { createRefreshTokensRepo } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { signAccessToken } from '../../src/oauth/tokens/access-token.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';
import type { TestApp } from './app.ts';
import { browser, type Browser } from './browser-flow.ts';

/** A database, or anything that holds one. */
export type SeedTarget = Db | { db: Db };
const dbOf = (target: SeedTarget): Db => ('prepare' in target ? target : target.db);

// ── A data directory without an app (CLI, backup and migration tests) ─────────────────────────

export interface TempData {
  dir: string;
  config: Config;
  db: Db;
  /** Closes the database and deletes the directory. */
  cleanup(): void;
}

/** A data directory with a migrated database (the config is development-mode, port 3000 unless given). */
export function tempData(env: Record<string, string> = {}): TempData {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-ops-'));
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', ...env });
  const db = openDatabase(config.databaseFile);
  migrate(db);
  const data: TempData = {
    dir,
    config,
    db,
    cleanup() {
      if (data.db.open) data.db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return data;
}

// ── People and wikis ──────────────────────────────────────────────────────────────────────────

let seq = 0;

/** A user with their first wiki (slug = username), as signup creates them. */
export function seedUser(
  target: SeedTarget,
  username = `user${++seq}${crypto.randomBytes(3).toString('hex')}`,
  did = `did:plc:${username}${crypto.randomBytes(4).toString('hex')}`,
): User {
  const user = createUsersRepo(dbOf(target)).insertWithFirstWiki({ did, handle: `${username}.test`, displayName: null, username });
  if (user === 'taken') throw new Error(`seedUser: username ${username} is taken`);
  return user;
}

/** Another wiki owned by `ownerDid` (what "New wiki" on the account page creates). */
export function seedWiki(target: SeedTarget, slug: string, ownerDid: string, createdAt = nowSeconds()): void {
  dbOf(target).prepare('INSERT INTO wikis (slug, owner_did, created_at) VALUES (?, ?, ?)').run(slug, ownerDid, createdAt);
}

// ── Clients ───────────────────────────────────────────────────────────────────────────────────

/** A registered public client (as Claude Code registers); returns its generated client_id. */
export function seedClient(target: SeedTarget, name = 'Claude Code'): string {
  return createClientsRepo(dbOf(target)).insertRegistered(
    {
      client_name: name,
      redirect_uris: ['http://localhost:54321/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    null,
  ).clientId;
}

/** A registered public client under a fixed client_id (tests that name it in expectations). */
export function seedClientWithId(target: SeedTarget, clientId: string, redirectUri = 'http://localhost/cb', createdAt = nowSeconds()): string {
  dbOf(target)
    .prepare("INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at) VALUES (?, 'registered', NULL, ?, ?)")
    .run(
      clientId,
      JSON.stringify({
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      }),
      createdAt,
    );
  return clientId;
}

// ── Grants and tokens ─────────────────────────────────────────────────────────────────────────

export interface SeededGrant {
  grantId: string;
  /** A live refresh token of the grant (only its hash is stored); '' when asked for none. */
  refreshToken: string;
}

/** A consented grant of `did` for `clientId` on wiki `slug`, with one refresh token (REFRESH_TOKEN_TTL_SECONDS). */
export function seedGrant(
  target: SeedTarget,
  config: Config,
  input: { did: string; slug: string; clientId: string; scope?: string; id?: string; expiresAt?: number; refreshToken?: boolean },
): SeededGrant {
  const db = dbOf(target);
  const grantId = input.id ?? crypto.randomUUID();
  createGrantsRepo(db).insert({
    id: grantId,
    clientId: input.clientId,
    userDid: input.did,
    wikiSlug: input.slug,
    resource: wikiMcpUrl(config, input.slug),
    scope: input.scope ?? 'wiki:read wiki:write',
    expiresAt: input.expiresAt ?? nowSeconds() + config.refreshTokenTtlSeconds,
  });
  if (input.refreshToken === false) return { grantId, refreshToken: '' };
  return { grantId, refreshToken: createRefreshTokensRepo(db).insert(grantId, config.refreshTokenTtlSeconds) };
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
export function seedSession(target: SeedTarget, did: string, ttlSeconds = 3600): string {
  const id = crypto.randomBytes(16).toString('base64url');
  createSessionsRepo(dbOf(target)).insert(id, did, ttlSeconds, 'test');
  return id;
}

/** A real session (as sign-in creates it): returns the cookie value, and its cookie name for this config. */
export function seedSignedInSession(ctx: Pick<AppContext, 'config' | 'sessions'>, user: User | Pick<User, 'did'>, userAgent = 'test'): { name: string; value: string } {
  // As createSession (src/accounts/session.ts) writes it, synchronously until this module is async.
  const value = randomToken(32);
  ctx.sessions.insert(sha256Hex(value), user.did, sessionLifetime(ctx.config), userAgent);
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
  const user = seedUser(app.ctx, username);
  const session = seedSignedInSession(app.ctx, user, userAgent);
  const b = browser(app);
  b.jar.set(session.name, session.value);
  return { did: user.did, handle: user.handle, username, mcpUrl: wikiMcpUrl(app.config, username), browser: b };
}

// ── A fixed cast: alice and bob ───────────────────────────────────────────────────────────────

export const ALICE = { did: 'did:plc:alice0000000000000000000', handle: 'alice.test' };
export const BOB = { did: 'did:plc:bob000000000000000000000', handle: 'bob.test' };

/** Users alice and bob (fixed DIDs), their wikis `alice` and `bob`, and one registered public client `clientId`. */
export function seedAliceAndBob(target: SeedTarget, clientId: string): { now: number; alice: typeof ALICE; bob: typeof BOB } {
  const db = dbOf(target);
  seedUser(db, 'alice', ALICE.did);
  seedUser(db, 'bob', BOB.did);
  seedClientWithId(db, clientId);
  // created_at as the rows above: the seeds run within one second.
  return { now: nowSeconds(), alice: { ...ALICE }, bob: { ...BOB } };
}
