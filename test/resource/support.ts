// A resource-side test app: a real context (temporary data dir), seeded rows, token minting, and
// an Express app with wikiHostRoutes + verifyRoutes + the shared error handler, as app.ts mounts them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { parseConfig } from '../../src/config/env.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { signAccessToken } from '../../src/oauth/tokens/access-token.ts';
import { verifyRoutes } from '../../src/resource/verify.route.ts';
import { wikiHostRoutes } from '../../src/resource/wiki-host.route.ts';
import { errorHandler, notFoundHandler } from '../../src/web/error-handler.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';

/** PUBLIC_URL defaults to http://localhost:3000, so wiki hosts are `{slug}.localhost:3000`. */
export const ISSUER = 'http://localhost:3000';
export const ALICE_HOST = 'alice.localhost:3000';
export const BOB_HOST = 'bob.localhost:3000';
export const ALICE_MCP = 'http://alice.localhost:3000/mcp';
export const ALICE_PRM = 'http://alice.localhost:3000/.well-known/oauth-protected-resource/mcp';
export const CLIENT_ID = 'test-client';

export interface SeededUser {
  did: string;
  handle: string;
}

export interface GrantSeed {
  id: string;
  user: SeededUser;
  wiki: string;
  scope: string;
}

export interface ResourceFixture {
  ctx: AppContext;
  app: express.Express;
  alice: SeededUser;
  bob: SeededUser;
  /** alice × test-client × wiki alice, both scopes. */
  aliceGrant: GrantSeed;
  /** alice × test-client × wiki alice, wiki:write only. */
  aliceWriteOnlyGrant: GrantSeed;
  /** alice × test-client × wiki alice, wiki:read only. */
  aliceReadOnlyGrant: GrantSeed;
  /** bob × test-client × wiki bob. */
  bobGrant: GrantSeed;
  /** A token for this grant, as the token endpoint would issue it. */
  mint(grant: GrantSeed): Promise<{ token: string; jti: string }>;
  close(): void;
}

const stub =
  (name: string): RequestHandler =>
  (_req, res) => {
    res.json({ stub: name });
  };

/** Users alice and bob, their wikis `alice` and `bob`, and one registered public client (CLIENT_ID). */
export function seedAliceAndBob(ctx: AppContext): { now: number; alice: SeededUser; bob: SeededUser } {
  const now = nowSeconds();
  const alice = { did: 'did:plc:alice0000000000000000000', handle: 'alice.test' };
  const bob = { did: 'did:plc:bob000000000000000000000', handle: 'bob.test' };
  const insertUser = ctx.db.prepare(
    'INSERT INTO users (did, handle, display_name, username, created_at, last_login_at) VALUES (?, ?, NULL, ?, ?, ?)',
  );
  insertUser.run(alice.did, alice.handle, 'alice', now, now);
  insertUser.run(bob.did, bob.handle, 'bob', now, now);
  const insertWiki = ctx.db.prepare('INSERT INTO wikis (slug, owner_did, created_at) VALUES (?, ?, ?)');
  insertWiki.run('alice', alice.did, now);
  insertWiki.run('bob', bob.did, now);
  ctx.db
    .prepare("INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at) VALUES (?, 'registered', NULL, ?, ?)")
    .run(
      CLIENT_ID,
      JSON.stringify({
        redirect_uris: ['http://localhost/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      }),
      now,
    );
  return { now, alice, bob };
}

export async function createResourceFixture(): Promise<ResourceFixture> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-resource-'));
  const ctx = await createContext(parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
  const { now, alice, bob } = seedAliceAndBob(ctx);
  const seedGrant = (id: string, user: SeededUser, wiki: string, scope: string): GrantSeed => {
    ctx.grants.insert({
      id,
      clientId: CLIENT_ID,
      userDid: user.did,
      wikiSlug: wiki,
      resource: wikiMcpUrl(ctx.config, wiki),
      scope,
      expiresAt: now + 3600,
    });
    return { id, user, wiki, scope };
  };

  const app = express();
  app.set('trust proxy', 'loopback');
  app.set('views', path.resolve('views'));
  app.set('view engine', 'ejs');
  app.locals.platformName = ctx.config.platformName;
  app.use(wikiHostRoutes(ctx, { tokenHandlers: [stub('token')], registerHandlers: [stub('register')] }));
  app.use(verifyRoutes(ctx));
  app.use(notFoundHandler);
  app.use(errorHandler(ctx.log));

  return {
    ctx,
    app,
    alice,
    bob,
    aliceGrant: seedGrant('grant-alice', alice, 'alice', 'wiki:read wiki:write'),
    aliceWriteOnlyGrant: seedGrant('grant-alice-write', alice, 'alice', 'wiki:write'),
    aliceReadOnlyGrant: seedGrant('grant-alice-read', alice, 'alice', 'wiki:read'),
    bobGrant: seedGrant('grant-bob', bob, 'bob', 'wiki:read wiki:write'),
    async mint(grant) {
      const issued = await signAccessToken(
        { config: ctx.config, keys: ctx.platformKeys },
        { did: grant.user.did, resource: wikiMcpUrl(ctx.config, grant.wiki), clientId: CLIENT_ID, scope: grant.scope, grantId: grant.id },
      );
      return { token: issued.token, jti: issued.jti };
    },
    close() {
      ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The headers a Streamable HTTP client sends with a POST (MCP 2025-11-25 transports). */
export const MCP_POST_HEADERS = { Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json' };

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1.0.0' } },
};

export const SERVER_DISCOVER = { jsonrpc: '2.0', id: 1, method: 'server/discover', params: {} };

export { loopbackFetch } from '../support/loopback-fetch.ts';
