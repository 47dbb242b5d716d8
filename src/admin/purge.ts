// `admin purge`: the service's own maintenance pass (src/maintenance.ts) on the Store of the
// configured database (SQLite, or PostgreSQL with DATABASE_URL), with the sealer read from the same
// keys the service reads (PLATFORM_KEYS_FILE, or the database with PLATFORM_KEYS_KEK; src/lib/sealing.ts)
// and warnings on stderr.
import fs from 'node:fs';
import { pino } from 'pino';
import type { Config } from '../config/env.ts';
import type { PlatformKeyRows } from '../config/key-source.ts';
import { createSealer, readSealingJwks, sealingJwksOf, type Sealer } from '../lib/sealing.ts';
import type { Store } from '../storage/store.ts';
import { keyStoreOf } from './keys.ts';
import { purgeNow } from '../maintenance.ts';
import { AdminError } from './errors.ts';

export async function adminPurge(config: Config, store: Store, keyRows: () => Promise<PlatformKeyRows>): Promise<Record<string, number>> {
  // Keys in the database (PLATFORM_KEYS_KEK): the sealer comes from there, as the service's does.
  if (config.platformKeysKek !== undefined) return purgeWith(config, store, createSealer(sealingJwksOf(await keyStoreOf(config, keyRows).read())));
  const file = config.platformKeysFile;
  if (!fs.existsSync(file)) {
    throw new AdminError(
      `There is no platform key file at ${file}, which purge needs to re-seal the stored ATProto secrets. ` +
        'Check PLATFORM_KEYS_FILE (and --env-file); the service creates it on first start in development, `keys generate` in production.',
    );
  }
  return purgeWith(config, store, createSealer(readSealingJwks(file)));
}

function purgeWith(config: Config, store: Store, sealer: Sealer): Promise<Record<string, number>> {
  const log = pino({ level: 'warn', base: { service: 'robot-auth-admin' } }, pino.destination({ fd: 2, sync: true }));
  return purgeNow({ store, config, sealer, log });
}
