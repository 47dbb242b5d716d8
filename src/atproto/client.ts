// The ATProto OAuth client (a "BFF": tokens stay on the server).
// Production (https PUBLIC_URL): a confidential web client whose client_id is the URL of its
// metadata document, authenticating with private_key_jwt (ES256). Development: the ATProto
// loopback client (client_id http://localhost?…), which PDSes accept without fetching metadata;
// its redirect URI must use 127.0.0.1, hence the hand-off step in routes.ts.
import {
  buildAtprotoLoopbackClientMetadata,
  JoseKey,
  NodeOAuthClient,
  requestLocalLock,
  type OAuthClientMetadataInput,
} from '@atproto/oauth-client-node';
import type { Config } from '../config/env.ts';
import type { PrivateJwk } from '../config/keys.ts';
import type { Db } from '../db/open.ts';
import { createSessionStore, createStateStore, type StoreSealing } from './stores.ts';

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

export async function createAtprotoClient(config: Config, db: Db, clientKeys: PrivateJwk[], sealing: StoreSealing): Promise<NodeOAuthClient> {
  const keyset = config.production ? await Promise.all(clientKeys.map((jwk) => JoseKey.fromImportable(signingJwk(jwk), jwk.kid))) : undefined;
  return new NodeOAuthClient({
    clientMetadata: atprotoClientMetadata(config),
    ...(keyset ? { keyset } : {}),
    stateStore: createStateStore(db, sealing),
    sessionStore: createSessionStore(db, sealing),
    // One process serves everything, so an in-process lock keeps token refreshes for a DID serial.
    requestLock: requestLocalLock,
    // Development talks to a local PDS over http; production never does.
    allowHttp: !config.production,
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
