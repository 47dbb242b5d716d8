// Key age against the rotation policy (--key-max-age-days, default 90): the current signing keys of
// PLATFORM_KEYS_FILE (or of the database, PLATFORM_KEYS_KEK: its version row's updated_at). A JWK carries
// no creation time, so the age is the key file's last write: every
// `keys rotate` rewrites it, so the signing key is AT LEAST that old (a later `keys retire` can make
// the file younger than the key, never older). Past the policy: warn, with the rotation steps.
import fs from 'node:fs';
import type { Check } from '../types.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export const keyAgeCheck: Check = {
  name: 'key-age',
  title: 'signing key age against the rotation policy',
  async run(target) {
    let mtimeMs;
    const inDatabase = target.platformKeysKek !== undefined;
    const source = inDatabase ? 'the platform keys in the database' : target.platformKeysFile;
    try {
      // In the database every change rewrites the set and stamps platform_keys_version.updated_at.
      if (inDatabase) {
        const updatedAt = target.postgres
          ? await target.postgres.keysUpdatedAt()
          : (target.db().prepare('SELECT updated_at FROM platform_keys_version WHERE id = 1').pluck().get() as number | undefined);
        if (updatedAt === undefined) return { status: 'fail', seen: 'there are no platform keys in the database', advice: 'run `keys import-to-database`' };
        mtimeMs = updatedAt * 1000;
      } else mtimeMs = fs.statSync(target.platformKeysFile).mtimeMs;
    } catch (err) {
      return { status: 'fail', seen: `cannot read ${source}: ${(err as Error).message}`, advice: 'check PLATFORM_KEYS_FILE or PLATFORM_KEYS_KEK (and --env-file)' };
    }
    const days = Math.floor((target.now() - mtimeMs) / DAY_MS);
    const seen = `${source} last rotated (written) ${days} days ago`;
    if (days > target.keyMaxAgeDays) {
      return {
        status: 'warn',
        seen,
        advice: `past the ${target.keyMaxAgeDays}-day rotation policy: \`keys rotate\` (and --purpose identity), then \`systemctl reload robot-auth\` (docs/operations.md, Key rotation)`,
      };
    }
    return { status: 'ok', seen };
  },
};
