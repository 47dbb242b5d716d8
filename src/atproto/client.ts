// The ATProto OAuth client (a "BFF": tokens stay on the server).
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
  requestLocalLock,
  type OAuthClientMetadataInput,
} from '@atproto/oauth-client-node';
import type { Config } from '../config/env.ts';
import { createSafeFetch } from '../lib/outbound/fetch.ts';
import type { OutboundPolicy } from '../lib/outbound/policy.ts';
import type { Logger } from '../web/log.ts';
import type { PrivateJwk } from '../config/keys.ts';
import type { Db } from '../db/open.ts';
import { createSessionStore, createStateStore } from './stores.ts';

export const ATPROTO_SCOPE = 'atproto';

export function atprotoCallbackUrl(config: Config): string {
  return config.production ? `${config.publicUrl}/auth/callback` : `http://127.0.0.1:${config.port}/auth/callback`;
}

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

/** What the ATProto client may reach: development anything (the local PDS is on loopback). */
export function atprotoOutboundPolicy(config: Pick<Config, 'production' | 'outboundPrivateHosts'>): OutboundPolicy {
  return {
    allowPrivateAddresses: !config.production,
    allowHttp: !config.production,
    privateHosts: config.outboundPrivateHosts,
  };
}

export interface AtprotoClientDeps {
  config: Config;
  db: Db;
  log: Pick<Logger, 'warn'>;
}

export async function createAtprotoClient(deps: AtprotoClientDeps, clientKeys: PrivateJwk[]): Promise<NodeOAuthClient> {
  const { config, db } = deps;
  const keyset = config.production ? await Promise.all(clientKeys.map((jwk) => JoseKey.fromImportable(signingJwk(jwk), jwk.kid))) : undefined;
  return new NodeOAuthClient({
    clientMetadata: atprotoClientMetadata(config),
    ...(keyset ? { keyset } : {}),
    stateStore: createStateStore(db),
    sessionStore: createSessionStore(db),
    // One process serves everything, so an in-process lock keeps token refreshes for a DID serial.
    requestLock: requestLocalLock,
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
