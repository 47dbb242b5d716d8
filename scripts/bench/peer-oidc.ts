// Bench child: node-oidc-provider 9.13 (panva), the authorization server a Node team would
// otherwise pick, as the same-run peer of the app (issue 11 item 1). Configured as its README and
// docs/README.md recommend for an OAuth 2.1 AS in front of resource servers:
// - its built-in memory adapter (lib/adapters/memory_adapter.js): no durability at all, unlike the
//   app's SQLite. Its default store is an LRU of 1,000 entries (it is meant for quick starts), which
//   would evict the pools' codes and tokens mid-run and answer 400; the same adapter class is given
//   its own LRU (lib/helpers/lru.js) sized so nothing is evicted during a bench;
// - PKCE required for every client (pkce.required → true; S256 is its only method);
// - refresh token rotation on for every refresh (rotateRefreshToken: true);
// - resource indicators (RFC 8707) on, every resource a wiki's /mcp, access tokens in the JWT
//   format (accessTokenFormat: 'jwt', RFC 9068) signed with BENCH_ALG (RS256 or ES256): the same
//   kind of token the app issues (a signed JWT with the wiki as audience), so each side signs once
//   per request;
// - one public client (token_endpoint_auth_method none, like Claude Code) and one confidential
//   client (client_secret_post); the bench uses the public one, like the app's cases.
// Seeding: grants, authorization codes and refresh tokens are created through the provider's own
// models (provider.Grant / AuthorizationCode / RefreshToken, `.save()`), which store them through its
// adapter exactly as its /authorization and /token endpoints do; the values are handed back to the
// runner as ready /token request bodies (the same IPC requests as server.ts answers).
// Environment: BENCH_ALG (RS256 | ES256), BENCH_GRANTS (grants seeded at start).
import crypto from 'node:crypto';
import http from 'node:http';
import Provider, { type Configuration } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { answerRequests, listen, requireEnv } from './child-util.ts';
import { BENCH_CODE_VERIFIER, type ChildRequest, type ReadyMessage } from './protocol.ts';
import { ISSUER, REDIRECT_URI, SCOPE } from './seed.ts';

export const PEER_PUBLIC_CLIENT = 'bench-public-client';
export const PEER_SECRET_CLIENT = 'bench-secret-client';
/** The resource (audience) of grant g: a wiki's /mcp, as in seed.ts. */
const resourceOf = (g: number): string => `http://w${g % 100}.localhost:3000/mcp`;
const accountOf = (g: number): string => `did:plc:bench${g % 100}`;

const alg = requireEnv('BENCH_ALG');
if (alg !== 'RS256' && alg !== 'ES256') throw new Error(`BENCH_ALG must be RS256 or ES256, not ${alg}`);
const grants = Number(process.env.BENCH_GRANTS ?? '1000');

function signingKeys(): Configuration['jwks'] {
  // Both kinds are published; the resource server config below picks the one the run measures.
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  // The first key of a type is the default signer for its algorithms.
  return { keys: alg === 'ES256' ? [{ ...ec, kid: 'es', use: 'sig', alg: 'ES256' }, { ...rsa, kid: 'rs', use: 'sig', alg: 'RS256' }] : [{ ...rsa, kid: 'rs', use: 'sig', alg: 'RS256' }, { ...ec, kid: 'es', use: 'sig', alg: 'ES256' }] } as Configuration['jwks'];
}

/** One store for every model, as the default; large enough that nothing is evicted. */
const store = new LRU({ maxSize: 5_000_000 });

const configuration: Configuration = {
  adapter: (model: string) => new MemoryAdapter(model, store),
  clients: [
    {
      client_id: PEER_PUBLIC_CLIENT,
      token_endpoint_auth_method: 'none',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: PEER_SECRET_CLIENT,
      client_secret: 'bench-client-secret-0123456789abcdef',
      token_endpoint_auth_method: 'client_secret_post',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  jwks: signingKeys(),
  scopes: ['wiki:read', 'wiki:write', 'offline_access'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  // The app issues a refresh token with every code exchange (MCP clients need one).
  issueRefreshToken: async () => true,
  ttl: { AccessToken: 3600, AuthorizationCode: 3600, RefreshToken: 30 * 24 * 3600, Grant: 365 * 24 * 3600 },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? resourceOf(0),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => ({
        scope: SCOPE,
        audience: resourceIndicator,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg } },
      }),
    },
  },
};

async function main(): Promise<void> {
  const provider = new Provider(ISSUER, configuration);
  // Errors answered to clients are not the bench's business; keep stderr for crashes.
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  const client = await provider.Client.find(PEER_PUBLIC_CLIENT);
  if (!client) throw new Error('peer client missing');

  // Grants: one per (account, resource), as the app's seed has one per user and wiki.
  const grantIds: string[] = [];
  const grantFor = async (g: number): Promise<string> => {
    const grant = new provider.Grant({ accountId: accountOf(g), clientId: PEER_PUBLIC_CLIENT });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(resourceOf(g), SCOPE);
    return grant.save();
  };
  for (let g = 0; g < grants; g++) grantIds.push(await grantFor(g));
  const challenge = crypto.createHash('sha256').update(BENCH_CODE_VERIFIER).digest('base64url');
  const enc = encodeURIComponent;
  let nextRefresh = 0;
  let nextCode = 0;

  const refreshPool = async (count: number): Promise<string[]> => {
    const bodies: string[] = [];
    for (let i = 0; i < count; i++) {
      const g = nextRefresh++ % grants;
      const token = new provider.RefreshToken({
        accountId: accountOf(g),
        client,
        grantId: grantIds[g],
        gty: 'authorization_code',
        scope: `offline_access ${SCOPE}`,
        resource: resourceOf(g),
      });
      const value = await token.save();
      bodies.push(`grant_type=refresh_token&refresh_token=${value}&client_id=${PEER_PUBLIC_CLIENT}&resource=${enc(resourceOf(g))}`);
    }
    return bodies;
  };
  const codePool = async (count: number): Promise<string[]> => {
    const bodies: string[] = [];
    for (let i = 0; i < count; i++) {
      const g = nextCode++ % grants;
      const code = new provider.AuthorizationCode({
        accountId: accountOf(g),
        client,
        grantId: grantIds[g],
        redirectUri: REDIRECT_URI,
        scope: `offline_access ${SCOPE}`,
        resource: resourceOf(g),
        codeChallenge: challenge,
        codeChallengeMethod: 'S256',
      });
      const value = await code.save();
      bodies.push(
        `grant_type=authorization_code&code=${value}&code_verifier=${BENCH_CODE_VERIFIER}&client_id=${PEER_PUBLIC_CLIENT}` +
          `&redirect_uri=${enc(REDIRECT_URI)}&resource=${enc(resourceOf(g))}`,
      );
    }
    return bodies;
  };

  // provider.callback() is its documented standalone mount (a plain Node request listener).
  const server = http.createServer(provider.callback());
  server.keepAliveTimeout = 65_000; // as the app's server
  const port = await listen(server);

  answerRequests(async (msg: ChildRequest) => {
    switch (msg.type) {
      case 'refresh-pool':
        return refreshPool(msg.count);
      case 'code-pool':
        return codePool(msg.count);
      case 'memory':
        return process.memoryUsage();
      case 'settle':
        return null; // its memory adapter has no WAL to copy
      case 'exit':
        server.closeAllConnections();
        server.close();
        setImmediate(() => process.exit(0));
        return true;
      default:
        throw new Error(`the peer does not answer ${msg.type}`);
    }
  });
  process.send?.({ type: 'ready', appPort: port, barePort: port } satisfies ReadyMessage);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
