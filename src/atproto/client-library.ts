// The ATProto OAuth client itself (a "BFF": tokens stay on the server), built from
// @atproto/oauth-client-node. Imported on first use only, by client.ts (which also holds what is
// checked at start, the SSRF policy and the callback URL).
// Production (https PUBLIC_URL): a confidential web client whose client_id is the URL of its
// metadata document, authenticating with private_key_jwt (ES256). Development: the ATProto
// loopback client (client_id http://localhost?…), which PDSes accept without fetching metadata;
// its redirect URI must use 127.0.0.1, hence the hand-off step in routes.ts.
// Every request the client makes (handle, DID document, PDS and authorization-server metadata,
// PAR, token, revocation, the session's XRPC calls) has a target a stranger chose, so all of them
// go through the SSRF-safe fetch (src/lib/outbound/): in production public https addresses on
// port 443 only, plus the hosts named in OUTBOUND_PRIVATE_HOSTS.
import {
  buildAtprotoLoopbackClientMetadata,
  JoseKey,
  NodeOAuthClient,
  type OAuthClientMetadataInput,
} from '@atproto/oauth-client-node';
import type { Config } from '../config/env.ts';
import { createSafeFetch } from '../lib/outbound/fetch.ts';
import type { PrivateJwk } from '../config/keys.ts';
import type { StoreSealing } from './stores.ts';
import { createSharedSessionStore, createSharedStateStore } from '../storage/atproto-stores.ts';
import { ATPROTO_SCOPE, atprotoCallbackUrl, atprotoOutboundPolicy, type AtprotoClientDeps } from './client.ts';

export function atprotoClientMetadata(config: Config): OAuthClientMetadataInput {
  if (!config.production) {
    return buildAtprotoLoopbackClientMetadata({ scope: ATPROTO_SCOPE, redirect_uris: [atprotoCallbackUrl(config)] });
  }
  return {
    client_id: `${config.publicUrl}/auth/client-metadata.json`,
    client_name: config.platformName,
    client_uri: config.publicUrl,
    application_type: 'web',
    redirect_uris: [atprotoCallbackUrl(config)] as [`https://${string}`],
    scope: ATPROTO_SCOPE,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    dpop_bound_access_tokens: true,
    jwks_uri: `${config.publicUrl}/auth/jwks.json`,
  };
}

/** Deadline and body cap of each request: DID documents, metadata and profile records are small. */
const ATPROTO_FETCH_LIMITS = { timeoutMs: 10_000, maxBytes: 256 * 1024 };

export async function buildAtprotoClient(deps: AtprotoClientDeps, clientKeys: PrivateJwk[], sealing: StoreSealing): Promise<NodeOAuthClient> {
  const { config, store } = deps;
  const keyset = config.production ? await Promise.all(clientKeys.map((jwk) => JoseKey.fromImportable(signingJwk(jwk), jwk.kid))) : undefined;
  return new NodeOAuthClient({
    clientMetadata: atprotoClientMetadata(config),
    ...(keyset ? { keyset } : {}),
    // Over the Store: on PostgreSQL every instance reads the states and sessions any instance wrote.
    stateStore: createSharedStateStore(store, sealing),
    sessionStore: createSharedSessionStore(store, sealing),
    // Token refreshes for a DID run one at a time: in-process on SQLite (one process serves
    // everything), a PostgreSQL advisory lock across instances (src/storage/store.ts requestLock).
    requestLock: store.requestLock,
    // Development talks to a local PDS over http; production never does.
    allowHttp: !config.production,
    fetch: createSafeFetch({ ...atprotoOutboundPolicy(config), ...ATPROTO_FETCH_LIMITS, log: deps.log }),
    ...(config.atprotoHandleResolver ? { handleResolver: config.atprotoHandleResolver } : {}),
    ...(config.atprotoPlcUrl ? { plcDirectoryUrl: config.atprotoPlcUrl } : {}),
  });
}

/**
 * Private JWKs must state their purpose with key_ops, not `use` (@atproto/jwk-jose warns on every
 * start that `use` will be rejected, and deletes it from the object it is given).
 */
function signingJwk(jwk: PrivateJwk): Parameters<typeof JoseKey.fromImportable>[0] {
  const { use: _use, ...rest } = jwk;
  return { ...rest, key_ops: ['sign'] } as Parameters<typeof JoseKey.fromImportable>[0];
}
