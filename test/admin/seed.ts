// Test data put straight into the database (what a PDS sign-in and a consent would have created),
// through the repositories where they have the method, so the rows look like the service's own.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { createSessionsRepo } from '../../src/accounts/sessions.repo.ts';
import { createUsersRepo, type User } from '../../src/accounts/users.repo.ts';
import { migrate } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase, type Db } from '../../src/db/open.ts';
import { createClientsRepo } from '../../src/oauth/clients/clients.repo.ts';
import { createGrantsRepo } from '../../src/oauth/grants/grants.repo.ts';
import { createRefreshTokensRepo } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';

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

export function seedUser(db: Db, username: string, did = `did:plc:${username}${crypto.randomBytes(4).toString('hex')}`): User {
  const user = createUsersRepo(db).insertWithFirstWiki({ did, handle: `${username}.test`, displayName: null, username });
  if (user === 'taken') throw new Error(`username ${username} taken`);
  return user;
}

/** A registered public client (as Claude Code registers). */
export function seedClient(db: Db, name = 'Claude Code'): string {
  return createClientsRepo(db).insertRegistered(
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

export interface SeededGrant {
  grantId: string;
  /** A live refresh token of the grant (only its hash is stored). */
  refreshToken: string;
}

/** A consented grant of `did` for `clientId` on wiki `slug`, with one refresh token. */
export function seedGrant(db: Db, config: Config, input: { did: string; slug: string; clientId: string }): SeededGrant {
  const grantId = crypto.randomUUID();
  createGrantsRepo(db).insert({
    id: grantId,
    clientId: input.clientId,
    userDid: input.did,
    wikiSlug: input.slug,
    resource: wikiMcpUrl(config, input.slug),
    scope: 'wiki:read wiki:write',
    expiresAt: nowSeconds() + config.refreshTokenTtlSeconds,
  });
  return { grantId, refreshToken: createRefreshTokensRepo(db).insert(grantId, config.refreshTokenTtlSeconds) };
}

export function seedSession(db: Db, did: string, ttlSeconds = 3600): string {
  const id = crypto.randomBytes(16).toString('base64url');
  createSessionsRepo(db).insert(id, did, ttlSeconds, 'test');
  return id;
}

/** Collects what a CLI run prints. */
export function captureIo(env: Record<string, string | undefined>, cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { env, cwd, out: (text: string) => out.push(text), err: (text: string) => err.push(text) },
    stdout: () => out.join('\n'),
    stderr: () => err.join('\n'),
  };
}
