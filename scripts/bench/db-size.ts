// Database size per 100,000 grants, before and after purgeExpired with half of them expired.
// The database: 100,000 grants (each with one live refresh token) of 10,000 users on 10,000 wikis
// with 10,000 registered clients, plus the authorization codes still inside their replay window
// (those of the last hour's grants, here 1% of them). Sizes are read with SQLite's dbstat table.
import path from 'node:path';
import fs from 'node:fs';
import { migrate } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase, type Db } from '../../src/db/open.ts';
import { purgeExpired } from '../../src/db/purge.ts';
import { sha256Hex } from '../../src/lib/secrets.ts';
import { clientId, grantClient, grantId, grantUser, REDIRECT_URI, SCOPE, seed, userDid, wikiResource, wikiSlug, type Scale } from './seed.ts';

export interface SizeSnapshot {
  /** The file on disk (after a WAL checkpoint). */
  fileBytes: number;
  /** Pages in use (page_count − freelist_count) × page_size. */
  usedBytes: number;
  /** Bytes of oauth_grants and refresh_tokens with their indexes. */
  grantBytes: number;
  rows: { grants: number; refreshTokens: number; codes: number };
}

export interface DbSizeReport {
  scale: Scale;
  codes: number;
  before: SizeSnapshot;
  afterPurge: SizeSnapshot;
  afterVacuum: SizeSnapshot;
  purgeSeconds: number;
  /** The same purge on a copy of the same database with an index on authorization_codes(grant_id) added. */
  purgeSecondsWithCodeGrantIndex: number;
  purged: Record<string, number>;
  /** Bytes per 100,000 grants (grant + refresh-token tables and indexes), before the purge. */
  grantBytesPer100k: number;
  seedSeconds: number;
}

const GRANT_TABLES = ['oauth_grants', 'refresh_tokens', 'oauth_grants_user', 'oauth_grants_client', 'oauth_grants_expires', 'refresh_tokens_grant', 'refresh_tokens_expires'];

function snapshot(db: Db, file: string): SizeSnapshot {
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  // The autoindexes of the TEXT primary keys count with their table.
  const rows = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[];
  const grantBytes = rows
    .filter((r) => GRANT_TABLES.includes(r.name) || r.name.startsWith('sqlite_autoindex_oauth_grants') || r.name.startsWith('sqlite_autoindex_refresh_tokens'))
    .reduce((sum, r) => sum + r.bytes, 0);
  const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  return {
    fileBytes: fs.statSync(file).size,
    usedBytes: (pages - free) * pageSize,
    grantBytes,
    rows: { grants: count('oauth_grants'), refreshTokens: count('refresh_tokens'), codes: count('authorization_codes') },
  };
}

export function measureDbSize(dir: string, scale: Scale = { users: 10_000, grants: 100_000, clients: 10_000 }): DbSizeReport {
  const file = path.join(dir, 'db-size.sqlite');
  const db = openDatabase(file);
  try {
    migrate(db);
    const now = nowSeconds();
    const seedStarted = performance.now();
    seed(db, scale, now);
    // Codes of the last hour's grants (1%): consumed, expired, still kept for replay detection.
    const codes = Math.floor(scale.grants / 100);
    const insertCode = db.prepare(
      `INSERT INTO authorization_codes (hash, client_id, user_did, wiki_slug, redirect_uri, redirect_uri_sent, code_challenge,
         resource, scope, created_at, expires_at, consumed_at, grant_id)
       VALUES (?, ?, ?, ?, ?, 1, 'challenge', ?, ?, ?, ?, ?, ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < codes; i++) {
        const g = scale.grants - 1 - i * 50; // spread over even and odd grants
        const u = grantUser(scale, g);
        insertCode.run(sha256Hex(`code:${i}`), clientId(grantClient(scale, g)), userDid(u), wikiSlug(u), REDIRECT_URI, wikiResource(u), SCOPE, now - 120, now - 60, now - 100, grantId(g));
      }
    })();
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const before = snapshot(db, file);

    // Half of the grants (every other one) and their refresh tokens expire.
    db.transaction(() => {
      db.prepare('UPDATE oauth_grants SET expires_at = ? WHERE rowid % 2 = 0').run(now - 10);
      db.prepare('UPDATE refresh_tokens SET expires_at = ? WHERE grant_id IN (SELECT id FROM oauth_grants WHERE expires_at <= ?)').run(now - 10, now);
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    const copy = path.join(dir, 'db-size-indexed.sqlite');
    fs.copyFileSync(file, copy);
    const purgeOptions = { clientIdleSeconds: 7 * 24 * 60 * 60 };
    const purgeStarted = performance.now();
    const purged = purgeExpired(db, purgeOptions);
    const purgeSeconds = (performance.now() - purgeStarted) / 1000;

    // Each deleted grant sets authorization_codes.grant_id to NULL (ON DELETE SET NULL); without
    // an index on that column SQLite scans the codes table once per deleted grant.
    const indexed = openDatabase(copy);
    let purgeSecondsWithCodeGrantIndex: number;
    try {
      indexed.exec('CREATE INDEX IF NOT EXISTS authorization_codes_grant ON authorization_codes(grant_id)');
      const started = performance.now();
      purgeExpired(indexed, purgeOptions);
      purgeSecondsWithCodeGrantIndex = (performance.now() - started) / 1000;
    } finally {
      indexed.close();
    }
    const afterPurge = snapshot(db, file);
    db.exec('VACUUM');
    const afterVacuum = snapshot(db, file);
    return {
      scale,
      codes,
      before,
      afterPurge,
      afterVacuum,
      purgeSeconds,
      purgeSecondsWithCodeGrantIndex,
      purged,
      grantBytesPer100k: (before.grantBytes / scale.grants) * 100_000,
      seedSeconds,
    };
  } finally {
    db.close();
  }
}
