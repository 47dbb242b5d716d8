// `admin purge`: the service's own maintenance pass (src/maintenance.ts), with the sealer read from
// the same key file the service reads (PLATFORM_KEYS_FILE, src/lib/sealing.ts) and warnings on stderr.
import fs from 'node:fs';
import { pino } from 'pino';
import type { Config } from '../config/env.ts';
import type { Db } from '../db/open.ts';
import { createSealer, readSealingJwks, sealingJwksOf, type Sealer } from '../lib/sealing.ts';
import { keyStoreOf } from './keys.ts';
import { purgeNow } from '../maintenance.ts';
import { createRefreshTokensRepo } from '../oauth/token/refresh-tokens.repo.ts';
import { AdminError } from './errors.ts';

export async function adminPurge(config: Config, db: Db): Promise<Record<string, number>> {
  // Keys in the database (PLATFORM_KEYS_KEK): the sealer comes from there, as the service's does.
  if (config.platformKeysKek !== undefined) return purgeWith(config, db, createSealer(sealingJwksOf(await keyStoreOf(config, () => db).read())));
  const file = config.platformKeysFile;
  if (!fs.existsSync(file)) {
    throw new AdminError(
      `There is no platform key file at ${file}, which purge needs to re-seal the stored ATProto secrets. ` +
        'Check PLATFORM_KEYS_FILE (and --env-file); the service creates it on first start in development, `keys generate` in production.',
    );
  }
  return purgeWith(config, db, createSealer(readSealingJwks(file)));
}

function purgeWith(config: Config, db: Db, sealer: Sealer): Record<string, number> {
  const log = pino({ level: 'warn', base: { service: 'robot-auth-admin' } }, pino.destination({ fd: 2, sync: true }));
  return purgeNow({ db, config, sealer, log, refreshTokens: createRefreshTokensRepo(db) });
}
