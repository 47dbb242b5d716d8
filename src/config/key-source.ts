// Platform keys in the database (issue 12, "keys across instances"): instances that share nothing but
// the database must sign with the same current key and verify the same published ones, and a rotation
// on one must reach the others without a restart. Chosen over "the key file on shared storage"
// because the database is already the one thing they share (docs/operations.md, "Keys with several
// instances"). Enabled by PLATFORM_KEYS_KEK; without it PLATFORM_KEYS_FILE stays the source.
//  - Confidentiality: each private JWK is sealed with AES-256-GCM (src/lib/sealing.ts, its one
//    implementation and format `v1.{kid}.{iv}.{ct‖tag}`) under a key derived by HKDF-SHA256 from the
//    key-encryption key PLATFORM_KEYS_KEK (32 bytes from the environment, never in the database).
//    Associated data: the row's kid, so a sealed key moved to another row does not open.
//  - Consistency: the whole ordered list is replaced in one transaction that also bumps
//    platform_keys_version, refused if the version moved since the writer read it (two operators
//    rotating at once: one wins, the other is told to retry). Readers see the old or the new list.
//  - Reload: src/config/key-reload.ts polls `version()` (one row by primary key).
// The rows themselves are behind `PlatformKeyRows` (SQLite here; PostgreSQL in key-source.postgres.ts).
import crypto from 'node:crypto';
import type { Db } from '../db/open.ts';
import { createSealer, type Sealer } from '../lib/sealing.ts';
import { ConfigError, type Config } from './env.ts';
import { fileKeyStore, privateJwkSchema, type KeyStore, type PrivateJwk } from './keys.ts';

export const PLATFORM_KEYS_TABLE = 'platform_keys';

export interface PlatformKeyRow {
  kid: string;
  position: number;
  sealed_jwk: string;
}

/** Thrown when another writer changed the key set between our read and our write. */
export class KeySetChanged extends Error {
  constructor() {
    super('The platform keys changed while this command ran (another rotation?). Nothing was written: run the command again.');
  }
}

/** The storage of the sealed rows; each call is its own transaction. */
export interface PlatformKeyRows {
  /** 0 before the first write (no version row yet). */
  version(): Promise<number>;
  list(): Promise<PlatformKeyRow[]>;
  /** Replaces every row and bumps the version, atomically; false (nothing written) if the version is not `expected`. */
  replace(rows: PlatformKeyRow[], expected: number | undefined, now: number): Promise<boolean>;
}

export function sqliteKeyRows(db: Db): PlatformKeyRows {
  const version = db.prepare('SELECT version FROM platform_keys_version WHERE id = 1').pluck();
  const versionNow = () => (version.get() as number | undefined) ?? 0;
  const list = db.prepare('SELECT kid, position, sealed_jwk FROM platform_keys ORDER BY position');
  const clear = db.prepare('DELETE FROM platform_keys');
  const insert = db.prepare('INSERT INTO platform_keys (kid, position, sealed_jwk, created_at) VALUES (?, ?, ?, ?)');
  const bump = db.prepare(
    'INSERT INTO platform_keys_version (id, version, updated_at) VALUES (1, 1, ?) ON CONFLICT (id) DO UPDATE SET version = version + 1, updated_at = excluded.updated_at',
  );
  const replace = db.transaction((rows: PlatformKeyRow[], expected: number | undefined, now: number): boolean => {
    if (expected !== undefined && versionNow() !== expected) return false;
    clear.run();
    for (const row of rows) insert.run(row.kid, row.position, row.sealed_jwk, now);
    bump.run(now);
    return true;
  });
  return {
    version: async () => versionNow(),
    list: async () => list.all() as PlatformKeyRow[],
    // IMMEDIATE: take the write lock before reading the version, so the check and the write are one step.
    replace: async (rows, expected, now) => replace.immediate(rows, expected, now),
  };
}

/** The sealer of the key-encryption key; its "kid" is a short fingerprint, to tell two KEKs apart in errors. */
export function kekSealer(kek: string): Sealer {
  const fingerprint = crypto.createHash('sha256').update(Buffer.from(kek, 'base64url')).digest('hex').slice(0, 16);
  return createSealer([{ kid: `kek-${fingerprint}`, d: kek }]);
}

const aad = (kid: string) => `${PLATFORM_KEYS_TABLE}:${kid}`;

/** The platform keys in the database, sealed under `kek`. */
export function databaseKeyStore(rows: PlatformKeyRows, kek: string, clock: () => number = () => Math.floor(Date.now() / 1000)): KeyStore {
  const sealer = kekSealer(kek);
  const location = `the database (table ${PLATFORM_KEYS_TABLE})`;
  const open = (row: PlatformKeyRow): PrivateJwk => {
    const opened = sealer.open(row.sealed_jwk, aad(row.kid));
    if (!opened.ok) {
      const why =
        opened.reason === 'unknown_key'
          ? `it was sealed under another PLATFORM_KEYS_KEK (${opened.kid}, this instance has ${sealer.currentKid}): set the same PLATFORM_KEYS_KEK on every instance`
          : `it does not open (${opened.reason}): the row was altered or copied from another row; restore the keys from a backup`;
      throw new ConfigError(`Platform key ${row.kid} in ${location} cannot be used: ${why}.`);
    }
    const parsed = privateJwkSchema.safeParse(JSON.parse(opened.plaintext));
    if (!parsed.success || parsed.data.kid !== row.kid) throw new ConfigError(`Platform key ${row.kid} in ${location} is not a private JWK with that kid.`);
    return parsed.data as PrivateJwk;
  };
  return {
    kind: 'database',
    location,
    exists: async () => (await rows.list()).length > 0,
    async read() {
      const stored = await rows.list();
      if (stored.length === 0) throw new ConfigError(`There are no platform keys in ${location}: run \`npm run admin -- keys import-to-database\`.`);
      return stored.map(open);
    },
    async write(keys, expectedVersion) {
      const sealed = keys.map((key, position) => ({ kid: key.kid, position, sealed_jwk: sealer.seal(JSON.stringify(key), aad(key.kid)) }));
      const expected = expectedVersion === undefined ? undefined : Number(expectedVersion);
      if (!(await rows.replace(sealed, expected, clock()))) throw new KeySetChanged();
    },
    version: async () => String(await rows.version()),
  };
}

/**
 * The store the configuration names: the database when PLATFORM_KEYS_KEK is set, else the key file.
 * `rows` are the database's key rows: `sqliteKeyRows(db)` on SQLite, `postgresKeyRows(pool)`
 * (key-source.postgres.ts) when the service runs on PostgreSQL (DATABASE_URL); called only with a KEK.
 */
export function keyStoreFor(config: Pick<Config, 'platformKeysKek' | 'platformKeysFile'>, rows: () => PlatformKeyRows): KeyStore {
  return config.platformKeysKek === undefined ? fileKeyStore(config.platformKeysFile) : databaseKeyStore(rows(), config.platformKeysKek);
}
