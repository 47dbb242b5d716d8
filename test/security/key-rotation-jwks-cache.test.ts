// Review finding (low): a rotated key could sign before external verifiers can fetch it. Both JWKS
// documents are served with Cache-Control max-age (300 s), but `keys rotate` let a new database key
// sign after two polls and a second (11 s), and a key-file key at once: a wiki whose JWKS client
// honours max-age, holding the set it fetched just before the rotation, rejected identity tokens
// from the new key for up to 5 minutes. The rule now (src/config/jwks-cache.ts): the key signs only
// once every cached copy of the old set has expired, and the max-age served and the wait come from
// the same setting (JWKS_MAX_AGE_SECONDS).
// The verifier here is the one the review describes: it fetches the key set just before the
// rotation and keeps it for the max-age the response names.
import type { Response } from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { IDENTITY_JWKS_PATH } from '../../src/accounts/identity-token.ts';
import { rotatePlatformKeys } from '../../src/admin/keys.ts';
import { databaseKeyStore, sqliteKeyRows, type PlatformKeyRows } from '../../src/config/key-source.ts';
import { postgresKeyRows } from '../../src/config/key-source.postgres.ts';
import { nowSeconds, openDatabase } from '../../src/db/open.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { startTestApp, type TestApp } from '../support/app.ts';

const KEK = Buffer.alloc(32, 7).toString('base64url');
let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** The key rows of the app's database, as `admin keys rotate` reaches them: over its own connection, either store. */
async function withKeyRows<T>(target: TestApp, fn: (rows: PlatformKeyRows) => Promise<T>): Promise<T> {
  if (target.config.databaseUrl) {
    const pool = createPool({ url: target.config.databaseUrl, poolSize: 2 });
    try {
      return await fn(postgresKeyRows(pool));
    } finally {
      await pool.end();
    }
  }
  const db = openDatabase(target.config.databaseFile);
  try {
    return await fn(sqliteKeyRows(db));
  } finally {
    db.close();
  }
}

/** What a max-age-honouring verifier does with a JWKS response: keeps it until this second. */
function cachedUntil(res: Response, fetchedAt: number): number {
  const maxAge = /(?:^|,)\s*max-age=(\d+)/.exec(String(res.headers['cache-control']))?.[1];
  expect(maxAge, 'the JWKS names a max-age').toBeDefined();
  return fetchedAt + Number(maxAge);
}

const JWKS_PATHS = [
  ['access-token keys', OAUTH_PATHS.jwks, 'access'],
  ['identity-token keys (the wikis)', IDENTITY_JWKS_PATH, 'identity'],
] as const;

describe('a rotated key signs only after every cached copy of the old key set has expired', () => {
  for (const [what, jwksPath, purpose] of JWKS_PATHS) {
    it(`key file (one instance), ${what}`, async () => {
      app = await startTestApp({}, { listen: false });
      const fetchedAt = nowSeconds();
      const before = await app.http().get(jwksPath).expect(200);
      const oldKids = (before.body as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      const rotation = await rotatePlatformKeys(app.config, { purpose, now: fetchedAt });
      expect(oldKids).not.toContain(rotation.kid);
      // The verifier meets the new kid only in a token signed at or after signsFrom.
      expect(rotation.signsFrom).toBeGreaterThan(cachedUntil(before, fetchedAt) + app.config.platformKeysPollSeconds);
      // The instance publishes it at its next poll, and keeps signing with the old key meanwhile.
      expect(await app.ctx.keyReloader.checkNow()).toBe('reloaded');
      const after = await app.http().get(jwksPath).expect(200);
      expect((after.body as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toContain(rotation.kid);
      const keys = purpose === 'access' ? app.ctx.platformKeys : app.ctx.identityKeys;
      expect(keys.current.kid).not.toBe(rotation.kid);
    });
  }

  it('keys in the database (several instances): past max-age and two polls', async () => {
    app = await startTestApp({ PLATFORM_KEYS_KEK: KEK }, { listen: false });
    const fetchedAt = nowSeconds();
    const before = await app.http().get(IDENTITY_JWKS_PATH).expect(200);
    const rotation = await withKeyRows(app, (rows) => rotatePlatformKeys(app!.config, { purpose: 'identity', now: fetchedAt, store: databaseKeyStore(rows, KEK) }));
    expect(rotation.signsFrom).toBeGreaterThan(cachedUntil(before, fetchedAt) + 2 * app.config.platformKeysPollSeconds);
  });

  it('the max-age served is the setting the wait is computed from', async () => {
    app = await startTestApp({ JWKS_MAX_AGE_SECONDS: '120' }, { listen: false });
    for (const [, jwksPath] of JWKS_PATHS) {
      expect((await app.http().get(jwksPath).expect(200)).headers['cache-control']).toBe('public, max-age=120');
    }
    const rotation = await rotatePlatformKeys(app.config, { now: 1_000 });
    expect(rotation.signsFrom).toBe(1_000 + 120 + app.config.platformKeysPollSeconds + 1);
  });

  it('a compromised key (--drop-previous) is still replaced at once', async () => {
    app = await startTestApp({}, { listen: false });
    const rotation = await rotatePlatformKeys(app.config, { now: 1_000, dropPrevious: true });
    expect(rotation.signsFrom).toBe(1_000);
  });
});
