// Reloading the platform keys while running (issue 12, "keys across instances"): a rotation made on
// one instance (or by the admin CLI) reaches every running instance without a restart.
//  - Every PLATFORM_KEYS_POLL_SECONDS each instance asks its key store for its version (the database:
//    one row by primary key; the file: a stat). When it moved, the keys are read and loaded again.
//    So every instance publishes the same JWKS, and signs with the same key, within one interval.
//  - It also reloads when a loaded key's retire_after has passed (a retired key stops verifying on
//    every instance at that moment, not at the next change), and when a pre-published key's
//    sign_after has come (src/config/keys.ts): then every instance starts signing with it together.
//  - All or nothing: the new access and identity sets (and the at-rest sealer) are built first and
//    only then swapped in, in place (routers hold references from start-up), in one synchronous step.
//    A key set that does not load (wrong ACCESS_TOKEN_ALG, a KEK that does not open it) is logged
//    with what to do, and the instance keeps its previous keys.
//  - SIGHUP (src/server.ts) calls reloadNow(): the same path, at once.
import type { Config } from './env.ts';
import { loadPlatformKeys, type KeyStore, type PlatformKeys } from './keys.ts';
import { createSealer, sealingJwksOf, type Sealer } from '../lib/sealing.ts';
import type { Logger } from '../web/log.ts';

/** What a reload replaces, in place. */
export interface LiveKeys {
  platformKeys: PlatformKeys;
  identityKeys: PlatformKeys;
  sealer: Sealer;
}

export type ReloadOutcome = 'unchanged' | 'reloaded' | 'failed';

export interface KeyReloader {
  /** One poll: reloads if the store's version moved, a loaded key is past retire_after, or a pending key's sign_after came. */
  checkNow(): Promise<ReloadOutcome>;
  /** Reloads whatever the version (SIGHUP). */
  reloadNow(reason: string): Promise<ReloadOutcome>;
  /** Polls every PLATFORM_KEYS_POLL_SECONDS until stop(); the timer never keeps the process alive. */
  start(): void;
  stop(): void;
}

export interface KeyReloaderDeps {
  store: KeyStore;
  keys: LiveKeys;
  config: Pick<Config, 'accessTokenAlg' | 'platformKeysPollSeconds'>;
  log: Logger;
  /** Seconds since the epoch (tests move it). */
  now?: () => number;
}

/** `loadedVersion`: the store's version read before the keys in `keys` were loaded. */
export function createKeyReloader(deps: KeyReloaderDeps, loadedVersion: string): KeyReloader {
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  let version = loadedVersion;
  let lastFailure: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<ReloadOutcome> | undefined;

  let loadedAt = now();
  /** A moment after the last load at which the loaded set changes by itself (a key retires, or starts signing). */
  const nextEvent = (): number | undefined => {
    const { platformKeys: access, identityKeys: identity } = deps.keys;
    const verifying = [...access.all.filter((k) => k !== access.current), ...identity.all.filter((k) => k !== identity.current)];
    const times = verifying.flatMap((k) => [
      ...(k.retireAfter === undefined ? [] : [k.retireAfter]),
      ...(k.signAfter !== undefined && k.signAfter > loadedAt ? [k.signAfter] : []),
    ]);
    return times.length === 0 ? undefined : Math.min(...times);
  };

  async function reload(reason: string, seen: string): Promise<ReloadOutcome> {
    const at = now();
    try {
      const jwks = await deps.store.read();
      const access = await loadPlatformKeys(jwks, at, 'access', deps.config.accessTokenAlg);
      const identity = await loadPlatformKeys(jwks, at, 'identity');
      const sealer = createSealer(sealingJwksOf(jwks, at));
      const before = deps.keys.platformKeys.current.kid;
      Object.assign(deps.keys.platformKeys, access);
      Object.assign(deps.keys.identityKeys, identity);
      Object.assign(deps.keys.sealer, sealer);
      version = seen;
      loadedAt = at;
      lastFailure = undefined;
      deps.log.info(
        {
          source: deps.store.kind,
          reason,
          version: seen,
          signing: access.current.kid,
          previousSigning: before,
          verifying: access.all.map((k) => k.kid),
          identitySigning: identity.current.kid,
        },
        'platform keys reloaded',
      );
      return 'reloaded';
    } catch (err) {
      const message = (err as Error).message;
      // Once per distinct failure, not every poll; the version stays, so the next poll tries again.
      if (message !== lastFailure) {
        lastFailure = message;
        deps.log.error(
          { err, source: deps.store.kind, location: deps.store.location, reason },
          'platform keys changed but could not be loaded; still using the previous keys. Check them with `npm run admin -- keys list` and fix the cause above',
        );
      }
      return 'failed';
    }
  }

  // One check at a time: a slow database never piles up overlapping reloads.
  const serialized = (work: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> => {
    const next = (running ?? Promise.resolve<ReloadOutcome>('unchanged')).then(work, work);
    running = next;
    return next;
  };

  const checkNow = () =>
    serialized(async () => {
      let seen: string;
      try {
        seen = await deps.store.version();
      } catch (err) {
        deps.log.warn({ err, source: deps.store.kind }, 'could not check the platform keys for changes; will try again');
        return 'failed';
      }
      if (seen !== version) return reload('changed', seen);
      const event = nextEvent();
      if (event !== undefined && event <= now()) return reload('scheduled', seen);
      return 'unchanged';
    });

  return {
    checkNow,
    reloadNow: (reason) => serialized(async () => reload(reason, await deps.store.version())),
    start() {
      if (timer) return;
      timer = setInterval(() => void checkNow(), deps.config.platformKeysPollSeconds * 1000);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
