// A resource-side test app: a real context (startTestApp, in-process), seeded rows (support/seed.ts),
// token minting, and an Express app with wikiHostRoutes + verifyRoutes + the shared error handler,
// as app.ts mounts them.
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import type { AppContext } from '../../src/context.ts';
import { verifyRoutes } from '../../src/resource/verify.route.ts';
import { wikiHostRoutes } from '../../src/resource/wiki-host.route.ts';
import { errorHandler, notFoundHandler } from '../../src/web/error-handler.ts';
import { startTestApp } from '../support/app.ts';
import { mintAccessToken, seedAliceAndBob, seedGrant } from '../support/seed.ts';

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

/** A test app (in-process, no server) seeded with alice, bob, CLIENT_ID and four grants; `app` mounts only the wiki-host routes. */
export async function createResourceFixture(): Promise<ResourceFixture> {
  const testApp = await startTestApp({}, { listen: false });
  const { ctx } = testApp;
  const { now, alice, bob } = await seedAliceAndBob(ctx, CLIENT_ID);
  const grant = async (id: string, user: SeededUser, wiki: string, scope: string): Promise<GrantSeed> => {
    await seedGrant(ctx, ctx.config, { id, did: user.did, slug: wiki, clientId: CLIENT_ID, scope, expiresAt: now + 3600, refreshToken: false });
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
    aliceGrant: await grant('grant-alice', alice, 'alice', 'wiki:read wiki:write'),
    aliceWriteOnlyGrant: await grant('grant-alice-write', alice, 'alice', 'wiki:write'),
    aliceReadOnlyGrant: await grant('grant-alice-read', alice, 'alice', 'wiki:read'),
    bobGrant: await grant('grant-bob', bob, 'bob', 'wiki:read wiki:write'),
    mint: (g) => mintAccessToken(ctx, { grantId: g.id, did: g.user.did, slug: g.wiki, clientId: CLIENT_ID, scope: g.scope }),
    close() {
      void testApp.close();
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
