// The token endpoint's domain code on PostgreSQL (issue 12 item 2): refreshAccessToken and
// exchangeAuthorizationCode themselves (not a copy of their unit of work), given a context whose
// `store` is a PostgreSQL store on a real server (test/support/postgres.ts), with rows seeded
// through the store's repositories. Two Store instances (two pools) stand for two app instances.
// The rest of the context (keys, sealer, audit log, metrics, config) is the test app's.
// Their concurrency cases (50 refreshes of one token, 20 exchanges of one code, across two instances)
// are in contract.test.ts, on both stores.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nowSeconds } from '../../src/db/open.ts';
import type { ClientMetadata, OAuthClientRecord } from '../../src/oauth/clients/client.ts';
import { exchangeAuthorizationCode } from '../../src/oauth/token/grants/authorization-code.ts';
import { refreshAccessToken } from '../../src/oauth/token/grants/refresh-token.ts';
import { readTokenParams } from '../../src/oauth/token/token-params.ts';
import type { Asker } from '../../src/oauth/token/token-rate-limits.ts';
import { revokeToken } from '../../src/oauth/revoke/revoke.route.ts';
import { AppError } from '../../src/web/errors.ts';
import { onTwoPostgresInstances, type TwoPostgresStores } from '../support/postgres-stores.ts';

const pg = onTwoPostgresInstances();

const count: TwoPostgresStores['count'] = (...args) => pg.stores.count(...args);

const metadata = {
  redirect_uris: ['https://app.example/cb'],
  client_name: 'PostgreSQL token client',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
} as ClientMetadata;

let people = 0;
/** A user with a first wiki and a registered client, through the store's repositories. */
async function seedPerson(): Promise<{ did: string; slug: string; client: OAuthClientRecord }> {
  const name = `pg${people++}`;
  const did = `did:plc:${name}`;
  const user = await pg.stores.a.repos.users.insertWithFirstWiki({ did, handle: `${name}.test`, displayName: null, username: name });
  if (user === 'taken') throw new Error('seed: taken');
  return { did, slug: name, client: await pg.stores.a.repos.clients.insertRegistered(metadata, null) };
}

/** A live grant with one refresh token. */
async function seedGrant(): Promise<{ did: string; client: OAuthClientRecord; grantId: string; refreshToken: string; resource: string }> {
  const { did, slug, client } = await seedPerson();
  const grantId = `grant-${crypto.randomBytes(6).toString('hex')}`;
  const resource = `https://${slug}.localhost:3000/mcp`;
  await pg.stores.a.repos.grants.insert({ id: grantId, clientId: client.clientId, userDid: did, wikiSlug: slug, resource, scope: 'wiki:read', expiresAt: nowSeconds() + 3600 });
  return { did, client, grantId, refreshToken: await pg.stores.a.repos.refreshTokens.insert(grantId, 3600), resource };
}

const form = (body: Record<string, string>) => readTokenParams(body, 'application/x-www-form-urlencoded');

describe('refreshAccessToken on PostgreSQL', () => {
  it('a replay after the successor was rotated revokes the grant, with both audit rows in the same transaction', async () => {
    const { client, grantId, refreshToken } = await seedGrant();
    const first = await refreshAccessToken(pg.ctxA, client, form({ grant_type: 'refresh_token', refresh_token: refreshToken }));
    await refreshAccessToken(pg.ctxB, client, form({ grant_type: 'refresh_token', refresh_token: first.refresh_token }));
    await expect(refreshAccessToken(pg.ctxA, client, form({ grant_type: 'refresh_token', refresh_token: refreshToken }))).rejects.toMatchObject({
      code: 'invalid_grant',
    });
    expect(await pg.stores.a.repos.grants.findLive(grantId)).toBeUndefined();
    expect(await count('refresh_tokens', 'grant_id = $1', grantId)).toBe(0);
    expect(await count('audit_log', "client_id = $1 AND event = 'refresh_replay_detected' AND detail::text LIKE '%successor_rotated%'", client.clientId)).toBe(1);
    expect(await count('audit_log', "client_id = $1 AND event = 'grant_revoked' AND actor = 'replay'", client.clientId)).toBe(1);
  });

  it('the rate limits are told who asks before any write: a 429 there leaves the token unrotated', async () => {
    const { client, grantId, refreshToken } = await seedGrant();
    const askers: Asker[] = [];
    const attribute = (asker: Asker) => {
      askers.push(asker);
      throw new AppError(429, 'too_many_requests', 'spent');
    };
    await expect(refreshAccessToken(pg.ctxA, client, form({ grant_type: 'refresh_token', refresh_token: refreshToken }), { attribute })).rejects.toMatchObject({ status: 429 });
    expect(askers).toEqual([{ clientId: client.clientId, grantId, proven: true }]);
    expect(await count('refresh_tokens', 'grant_id = $1 AND rotated_at IS NULL', grantId)).toBe(1);
    expect(await count('refresh_tokens', 'grant_id = $1', grantId)).toBe(1);
  });
});

describe('exchangeAuthorizationCode on PostgreSQL', () => {
  async function seedCode() {
    const { did, slug, client } = await seedPerson();
    const verifier = crypto.randomBytes(32).toString('base64url');
    const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
    const resource = `https://${slug}.localhost:3000/mcp`;
    const code = await pg.stores.a.repos.codes.insert({
      clientId: client.clientId,
      userDid: did,
      wikiSlug: slug,
      redirectUri: 'https://app.example/cb',
      redirectUriSent: true,
      codeChallenge: challenge,
      resource,
      scope: 'wiki:read',
    });
    const params = form({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example/cb', resource });
    return { client, code, params };
  }

  it('a wrong verifier writes nothing and does not consume the code; the right one then works', async () => {
    const { client, params } = await seedCode();
    const askers: Asker[] = [];
    const wrong = form({ ...Object.fromEntries(['grant_type', 'code', 'redirect_uri', 'resource'].map((k) => [k, params.optional(k) ?? ''])), code_verifier: 'x'.repeat(43) });
    await expect(exchangeAuthorizationCode(pg.ctxA, client, wrong, { attribute: (a) => askers.push(a) })).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(askers).toEqual([]); // the address pays, not the client
    expect(await count('oauth_grants', 'client_id = $1', client.clientId)).toBe(0);
    const answer = await exchangeAuthorizationCode(pg.ctxB, client, params, { attribute: (a) => askers.push(a) });
    expect(answer.refresh_token).toBeTruthy();
    expect(askers).toEqual([{ clientId: client.clientId, proven: true }]);
  });
});

describe('revokeToken on PostgreSQL', () => {
  it('a refresh token revokes its grant with the audit row; a second revocation reports nothing live', async () => {
    const { client, grantId, refreshToken } = await seedGrant();
    expect(await revokeToken(pg.ctxA, client, refreshToken, '::ffff:192.0.2.7')).toBe(true);
    expect(await pg.stores.b.repos.grants.findLive(grantId)).toBeUndefined();
    expect(await count('audit_log', "client_id = $1 AND event = 'grant_revoked' AND actor = 'client' AND address = '192.0.2.7'", client.clientId)).toBe(1);
    expect(await revokeToken(pg.ctxB, client, refreshToken)).toBe(false);
  });
});
