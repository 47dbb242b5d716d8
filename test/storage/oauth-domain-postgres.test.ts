// The OAuth authorization and registration domain code on PostgreSQL (issue 12 item 2):
// decideConsent, registerWithinCap and the client resolver's document cache themselves (not a copy
// of their unit of work), given a context whose `store` is a PostgreSQL store on a real server
// (test/support/postgres.ts). Two Store instances (two pools) stand for two app instances; each
// guarantee (a pending request used once, MAX_UNUSED_CLIENTS, MAX_CACHED_CLIENT_DOCUMENTS) is
// shown under concurrent requests split across both. The rest of the context (config, audit log,
// keys) is the test app's. Also: the bearer check and /healthz on the PostgreSQL store.
import express from 'express';
import request from 'supertest';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedInUser } from '../../src/accounts/session.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { AuthorizationRequestExpired, decideConsent } from '../../src/oauth/authorize/consent.ts';
import type { ClientMetadata, OAuthClientRecord } from '../../src/oauth/clients/client.ts';
import { registerWithinCap } from '../../src/oauth/clients/client-caps.ts';
import { createClientResolver } from '../../src/oauth/clients/resolve-client.ts';
import { TemporarilyUnavailable } from '../../src/oauth/errors.ts';
import { signAccessToken } from '../../src/oauth/tokens/access-token.ts';
import { checkBearer } from '../../src/resource/check-bearer.ts';
import { InvalidToken } from '../../src/resource/errors.ts';
import type { Store } from '../../src/storage/store.ts';
import { healthRoutes } from '../../src/web/health.route.ts';
import { createLogger } from '../../src/web/log.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';
import { onTwoPostgresInstances, type TwoPostgresStores } from '../support/postgres-stores.ts';
import { createPostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import { createTestCertificate, json, startDocServer, type DocServer, type TestCertificate } from '../oauth/clients/https-stand-in.ts';

const pg = onTwoPostgresInstances();

const count: TwoPostgresStores['count'] = (...args) => pg.stores.count(...args);

const metadata = {
  redirect_uris: ['https://app.example/cb'],
  client_name: 'PostgreSQL OAuth client',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
} as ClientMetadata;

let people = 0;
/** A user with a first wiki and a registered client, through the store's repositories. */
async function seedPerson(): Promise<{ user: SignedInUser; slug: string; client: OAuthClientRecord }> {
  const name = `oa${people++}`;
  const did = `did:plc:${name}`;
  const created = await pg.stores.a.repos.users.insertWithFirstWiki({ did, handle: `${name}.test`, displayName: null, username: name });
  if (created === 'taken') throw new Error('seed: taken');
  const user: SignedInUser = { did, handle: `${name}.test`, username: name, sessionId: 'none' };
  return { user, slug: name, client: await pg.stores.a.repos.clients.insertRegistered(metadata, null) };
}

/** A pending authorization request (what GET /authorize stores) for the person's wiki. */
async function seedPending(client: OAuthClientRecord, slug: string | undefined): Promise<string> {
  return pg.stores.a.repos.authorizationRequests.insert({
    clientId: client.clientId,
    redirectUri: 'https://app.example/cb',
    redirectUriSent: true,
    state: 'st',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    scopes: ['wiki:read'],
    wikiSlug: slug,
  });
}

describe('decideConsent on PostgreSQL', () => {
  it('two concurrent Allows of one pending request on two instances: one code, one audit row, the other is told it expired', async () => {
    for (let round = 0; round < 5; round++) {
      const { user, slug, client } = await seedPerson();
      const requestId = await seedPending(client, slug);
      const results = await Promise.allSettled([
        decideConsent(pg.ctxA, requestId, user, 'allow', undefined, { address: '192.0.2.1' }),
        decideConsent(pg.ctxB, requestId, user, 'allow', undefined, { address: '192.0.2.2' }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won, `round ${round}`).toHaveLength(1);
      const outcome = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof decideConsent>>>).value;
      expect(outcome.kind === 'redirect' && outcome.redirectTo).toMatch(/^https:\/\/app\.example\/cb\?code=/);
      const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(lost.map((r) => r.reason)).toEqual([expect.any(AuthorizationRequestExpired)]);
      expect(await count('authorization_codes', 'client_id = $1 AND user_did = $2', client.clientId, user.did)).toBe(1);
      expect(await count('authorization_codes', 'client_id = $1 AND resource = $2', client.clientId, wikiMcpUrl(pg.app.config, slug))).toBe(1);
      expect(await count('authorization_requests', 'client_id = $1', client.clientId)).toBe(0);
      expect(await count('audit_log', "client_id = $1 AND event = 'consent_given'", client.clientId)).toBe(1);
      // Consent issues a code; the grant comes with the code exchange.
      expect(await count('oauth_grants', 'client_id = $1', client.clientId)).toBe(0);
    }
  }, 60_000);

  it('Allow and Deny racing on two instances: exactly one of them decides', async () => {
    const { user, slug, client } = await seedPerson();
    const requestId = await seedPending(client, slug);
    const results = await Promise.allSettled([
      decideConsent(pg.ctxA, requestId, user, 'allow', undefined),
      decideConsent(pg.ctxB, requestId, user, 'deny', undefined),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const codes = await count('authorization_codes', 'client_id = $1', client.clientId);
    const audit = await count('audit_log', "client_id = $1 AND event IN ('consent_given', 'consent_denied')", client.clientId);
    expect(audit).toBe(1);
    expect(codes).toBe(results[0]!.status === 'fulfilled' ? 1 : 0);
  });

  it('Allow on a wiki the person does not own redirects with access_denied and issues nothing', async () => {
    const { user, client } = await seedPerson();
    const other = await seedPerson();
    const requestId = await seedPending(client, other.slug);
    const outcome = await decideConsent(pg.ctxB, requestId, user, 'allow', undefined);
    expect(outcome.kind === 'redirect' && outcome.redirectTo).toMatch(/error=access_denied/);
    expect(await count('authorization_codes', 'client_id = $1', client.clientId)).toBe(0);
    // The request is used up all the same.
    await expect(decideConsent(pg.ctxA, requestId, user, 'allow', other.slug)).rejects.toBeInstanceOf(AuthorizationRequestExpired);
  });
});

describe('registerWithinCap on PostgreSQL', () => {
  it('20 concurrent registrations across two instances never exceed MAX_UNUSED_CLIENTS; the rest get 503', async () => {
    await pg.stores.admin.query('DELETE FROM oauth_clients');
    const cap = 5;
    const lines: { msg: string; cap?: number }[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string; cap?: number }) });
    const config = { ...pg.app.config, maxUnusedClients: cap };
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => registerWithinCap({ store: i % 2 === 0 ? pg.stores.a : pg.stores.b, log, config }, { ...metadata, client_name: `Flood ${i}` }, null)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(cap);
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(refused).toHaveLength(20 - cap);
    for (const r of refused) expect(r.reason).toBeInstanceOf(TemporarilyUnavailable);
    expect(await count('oauth_clients', "kind = 'registered'")).toBe(cap);
    expect(await pg.stores.b.repos.clients.countUnusedRegistered()).toBe(cap);
    expect(lines).toHaveLength(20 - cap);
    expect(lines[0]).toMatchObject({ cap, msg: expect.stringMatching(/MAX_UNUSED_CLIENTS/) });
  }, 60_000);
});

describe('the client ID metadata document cache on PostgreSQL', () => {
  let certificate: TestCertificate;
  let docs: DocServer;
  beforeAll(async () => {
    certificate = createTestCertificate();
    docs = await startDocServer(certificate);
  });
  afterAll(async () => {
    await docs?.close();
    certificate?.remove();
  });

  const resolverOn = (store: Store, maxCachedDocuments: number) =>
    createClientResolver({ store, log: createLogger('silent'), allowPrivateAddresses: true, caCertificates: certificate.cert, maxCachedDocuments });

  it('10 new documents fetched at once through two instances: no more than MAX_CACHED_CLIENT_DOCUMENTS are cached, the rest get 503', async () => {
    await pg.stores.admin.query('DELETE FROM oauth_clients');
    const cap = 3;
    const ids = Array.from({ length: 10 }, (_, i) => {
      const path = `/race/${i}/client.json`;
      const clientId = `${docs.origin}${path}`;
      // Each answer waits a little, so every resolve has passed the check before fetching.
      const serve = json({ ...metadata, client_id: clientId, client_name: `Doc ${i}` });
      docs.routes.set(path, (req, res) => void setTimeout(() => serve(req, res), 50));
      return clientId;
    });
    const a = resolverOn(pg.stores.a, cap);
    const b = resolverOn(pg.stores.b, cap);
    const results = await Promise.allSettled(ids.map((id, i) => (i % 2 === 0 ? a : b).resolve(id)));
    const resolved = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<OAuthClientRecord | undefined>[];
    expect(resolved).toHaveLength(cap);
    for (const r of resolved) expect(r.value?.kind).toBe('metadata_document');
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    for (const r of refused) expect(r.reason).toBeInstanceOf(TemporarilyUnavailable);
    expect(await count('oauth_clients', "kind = 'metadata_document'")).toBe(cap);
    expect(await pg.stores.a.repos.clients.countDocuments()).toBe(cap);
    // A cached document is still refreshed while the cache is full.
    const cachedId = resolved[0]!.value!.clientId;
    await pg.stores.admin.query('UPDATE oauth_clients SET stale_at = $1 WHERE client_id = $2', [nowSeconds() - 1, cachedId]);
    expect((await b.resolve(cachedId))?.clientId).toBe(cachedId);
    expect(Number((await pg.stores.admin.query<{ stale_at: string }>('SELECT stale_at FROM oauth_clients WHERE client_id = $1', [cachedId])).rows[0]!.stale_at)).toBeGreaterThan(nowSeconds());
  }, 60_000);
});

describe('the bearer check and /healthz on PostgreSQL', () => {
  it('a grant revoked through one instance refuses the access token on the other at once', async () => {
    const { user, slug, client } = await seedPerson();
    const grantId = `grant-${slug}`;
    const resource = wikiMcpUrl(pg.app.config, slug);
    await pg.stores.a.repos.grants.insert({ id: grantId, clientId: client.clientId, userDid: user.did, wikiSlug: slug, resource, scope: 'wiki:read', expiresAt: nowSeconds() + 3600 });
    const { token } = await signAccessToken(
      { config: pg.app.config, keys: pg.app.ctx.platformKeys },
      { did: user.did, clientId: client.clientId, grantId, resource, scope: 'wiki:read' },
    );
    const caller = await checkBearer(pg.ctxA, `Bearer ${token}`, slug, 'wiki:read');
    expect(caller).toMatchObject({ did: user.did, wiki: slug, grantId, scopes: ['wiki:read'] });
    expect(await pg.stores.b.repos.grants.revoke(grantId)).toBe(true);
    await expect(checkBearer(pg.ctxA, `Bearer ${token}`, slug, 'wiki:read')).rejects.toBeInstanceOf(InvalidToken);
  });

  it("/healthz probes the PostgreSQL store's ping: 200 while it answers, 503 once it is closed", async () => {
    const url = await pg.server.createDatabase();
    const store = createPostgresStore(url, { poolSize: 1 });
    const health = express().use(healthRoutes({ store, log: createLogger('silent') }));
    expect((await request(health).get('/healthz')).body).toEqual({ status: 'ok', database: 'ok' });
    await store.close();
    const down = await request(health).get('/healthz');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unavailable', database: 'unreachable' });
  });
});
