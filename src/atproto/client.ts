// The ATProto OAuth client, loaded on first use. @atproto/oauth-client-node (with its three copies
// of undici) is ~52 MiB of RSS and ~0.4 s of CPU to import, and only sign-in, sign-out and account
// deletion need it: MCP clients and /auth/verify, nearly all the traffic, never do (issue 11). So:
//  - at start: everything that can be wrong in its configuration is checked (checkAtprotoClientKeys;
//    PUBLIC_URL and the outbound settings in src/config/env.ts): a misconfiguration still stops the
//    service at start, never at the first sign-in;
//  - on first use: client-library.ts is imported and the client built, once (concurrent callers
//    share the one load); a failure there is a 503 page for the person ("sign-in unavailable") and an
//    error line for the operator, and the next use tries again.
// What the client may reach (the SSRF policy) and where the PDS sends the person back are decided
// here too, from the configuration alone.
import crypto from 'node:crypto';
import type { NodeOAuthClient } from '@atproto/oauth-client-node';
import { ConfigError, type Config } from '../config/env.ts';
import type { PrivateJwk } from '../config/keys.ts';
import type { OutboundPolicy } from '../lib/outbound/policy.ts';
import { AppError } from '../web/errors.ts';
import type { Logger } from '../web/log.ts';
import type { Store } from '../storage/store.ts';
import type { StoreSealing } from './stores.ts';

export const ATPROTO_SCOPE = 'atproto';

export function atprotoCallbackUrl(config: Pick<Config, 'production' | 'publicUrl' | 'port'>): string {
  return config.production ? `${config.publicUrl}/auth/callback` : `http://127.0.0.1:${config.port}/auth/callback`;
}

/** What the ATProto client may reach: development anything (the local PDS is on loopback). */
export function atprotoOutboundPolicy(config: Pick<Config, 'production' | 'outboundPrivateHosts'>): OutboundPolicy {
  return {
    allowPrivateAddresses: !config.production,
    allowHttp: !config.production,
    privateHosts: config.outboundPrivateHosts,
  };
}

/**
 * What the library checks of its keyset when it is built, checked at start instead: production signs
 * its client assertions (private_key_jwt, ES256) with these keys, so each must be a private EC P-256
 * key with a kid. Development uses the loopback client, which has no keys.
 */
export function checkAtprotoClientKeys(config: Pick<Config, 'production' | 'atprotoClientKeysFile'>, keys: PrivateJwk[]): void {
  if (!config.production) return;
  const file = config.atprotoClientKeysFile;
  if (keys.length === 0) throw new ConfigError(`ATProto client key file ${file} holds no key`);
  for (const jwk of keys) {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || (jwk.alg !== undefined && jwk.alg !== 'ES256')) {
      throw new ConfigError(`ATProto client key ${jwk.kid} in ${file} must be an EC P-256 (ES256) key: generate one with \`npm run admin -- keys generate\``);
    }
    try {
      crypto.createPrivateKey({ key: { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }, format: 'jwk' });
    } catch (err) {
      throw new ConfigError(`ATProto client key ${jwk.kid} in ${file} is not a usable private key: ${(err as Error).message}`);
    }
  }
}

export interface AtprotoClientDeps {
  config: Config;
  /** The state and session stores and the request lock are the Store's, so several instances share them (src/storage/atproto-stores.ts). */
  store: Pick<Store, 'repos' | 'requestLock'>;
  log: Pick<Logger, 'warn' | 'error' | 'info'>;
}

/** The client, built on first use. */
export interface AtprotoClient {
  /** Loads the library and builds the client the first time; throws AtprotoUnavailable when it cannot. */
  get(): Promise<NodeOAuthClient>;
  /** Whether the library is loaded (tests, and the operator's start-up figures). */
  readonly loaded: boolean;
}

export class AtprotoUnavailable extends AppError {
  constructor(cause: unknown) {
    super(503, 'temporarily_unavailable', 'Signing in with Bluesky is unavailable right now. Please try again in a few minutes.', {
      cause,
      title: 'Sign-in unavailable',
      headers: { 'Retry-After': '60' },
    });
  }
}

export function createAtprotoClient(deps: AtprotoClientDeps, clientKeys: PrivateJwk[], sealing: StoreSealing): AtprotoClient {
  checkAtprotoClientKeys(deps.config, clientKeys);
  let client: NodeOAuthClient | undefined;
  let loading: Promise<NodeOAuthClient> | undefined;
  const load = async (): Promise<NodeOAuthClient> => {
    const started = performance.now();
    try {
      const library = await import('./client-library.ts');
      client = await library.buildAtprotoClient(deps, clientKeys, sealing);
      deps.log.info({ ms: Math.round(performance.now() - started) }, 'ATProto OAuth client loaded (first sign-in or sign-out since start)');
      return client;
    } catch (err) {
      deps.log.error(
        { err },
        'the ATProto OAuth client could not be loaded: sign-in, sign-out at the PDS and account deletion fail until it can. ' +
          'Check that `npm ci --omit=dev` installed @atproto/oauth-client-node and that ATPROTO_CLIENT_KEYS_FILE is readable; the next sign-in tries again',
      );
      throw new AtprotoUnavailable(err);
    } finally {
      loading = undefined;
    }
  };
  return {
    get() {
      if (client) return Promise.resolve(client);
      loading ??= load();
      return loading;
    },
    get loaded() {
      return client !== undefined;
    },
  };
}
