// Benchmark data: users, wikis, registered clients, grants and one refresh token per grant, written
// straight into a migrated database with prepared statements in one transaction (no PDS, no HTTP).
// Every id is derived from its index, so the load generator can name rows without reading them back.
// Large databases are built once and cached under bench-results/cache/, keyed by the migrations'
// text, this file's seed version and the sizes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { sha256Hex } from '../../src/lib/secrets.ts';

/** Bump when the seeded rows change shape: cached databases with another version are rebuilt. */
export const SEED_VERSION = 1;

/** PUBLIC_URL of the bench app: the default, so wiki hosts are `{slug}.localhost:3000`. */
export const ISSUER = 'http://localhost:3000';
export const APEX_HOST = 'localhost:3000';
export const REDIRECT_URI = 'http://127.0.0.1/callback';
export const SCOPE = 'wiki:read wiki:write';
/** Far enough ahead that a cached database stays valid for years. */
export const FAR_FUTURE_SECONDS = 10 * 365 * 24 * 60 * 60;

export interface Scale {
  users: number;
  grants: number;
  clients: number;
}

export const SMALL: Scale = { users: 100, grants: 1_000, clients: 100 };
export const LARGE: Scale = { users: 100_000, grants: 1_000_000, clients: 100_000 };
/** `--quick`: the same shape at a tenth, built in seconds. */
export const QUICK_LARGE: Scale = { users: 10_000, grants: 100_000, clients: 10_000 };

/** A short, random-looking but reproducible string (ids are random in production, so B-tree inserts and lookups scatter). */
function derived(prefix: string, i: number, length: number): string {
  return crypto.createHash('sha256').update(`${prefix}:${i}`).digest('base64url').slice(0, length);
}

export const userDid = (u: number): string => `did:plc:${derived('user', u, 24).toLowerCase().replace(/[^a-z2-7]/g, 'a')}`;
export const userHandle = (u: number): string => `user${u}.bench.test`;
export const wikiSlug = (u: number): string => `w${u}`;
export const wikiHost = (u: number): string => `${wikiSlug(u)}.${APEX_HOST}`;
export const wikiResource = (u: number): string => `http://${wikiHost(u)}/mcp`;
export const clientId = (c: number): string => `rc_${derived('client', c, 22)}`;
export const grantId = (g: number): string => derived('grant', g, 22);
/** Grant g belongs to user g mod users (about grants/users grants per user), for that user's own wiki. */
export const grantUser = (scale: Scale, g: number): number => g % scale.users;
/** ...and to a client spread over all of them. */
export const grantClient = (scale: Scale, g: number): number => Math.floor((g * 7919) % scale.clients);

export const CLIENT_METADATA = JSON.stringify({
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  client_name: 'Bench client',
});

/** Writes `scale` worth of rows into a migrated database, in one transaction. */
export function seed(db: Db, scale: Scale, now: number): void {
  const expires = now + FAR_FUTURE_SECONDS;
  const insertUser = db.prepare('INSERT INTO users (did, handle, display_name, username, created_at, last_login_at) VALUES (?, ?, NULL, ?, ?, ?)');
  const insertWiki = db.prepare('INSERT INTO wikis (slug, owner_did, created_at) VALUES (?, ?, ?)');
  const insertClient = db.prepare(
    `INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at, first_token_at, last_used_at)
     VALUES (?, 'registered', NULL, ?, ?, ?, ?)`,
  );
  const insertGrant = db.prepare(
    `INSERT INTO oauth_grants (id, client_id, user_did, wiki_slug, resource, scope, created_at, last_used_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertRefresh = db.prepare('INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)');
  const dids: string[] = [];
  const clients: string[] = [];
  db.transaction(() => {
    for (let u = 0; u < scale.users; u++) {
      const did = userDid(u);
      dids.push(did);
      insertUser.run(did, userHandle(u), `user${u}`, now, now);
      insertWiki.run(wikiSlug(u), did, now);
    }
    for (let c = 0; c < scale.clients; c++) {
      const id = clientId(c);
      clients.push(id);
      insertClient.run(id, CLIENT_METADATA, now, now, now);
    }
    for (let g = 0; g < scale.grants; g++) {
      const u = grantUser(scale, g);
      const id = grantId(g);
      insertGrant.run(id, clients[grantClient(scale, g)], dids[u], wikiSlug(u), wikiResource(u), SCOPE, now, now, expires);
      // The value is never needed: the bench provisions fresh tokens for the requests it sends.
      insertRefresh.run(sha256Hex(`bench-background-refresh-token:${g}`), id, now, expires);
    }
  })();
}

/** The text every cached database depends on: migrations, seed version, sizes. */
export function schemaKey(scale: Scale): string {
  const h = crypto.createHash('sha256');
  for (const m of readMigrations()) h.update(`${m.name}\n${m.sql}\n`);
  h.update(`seed ${SEED_VERSION} ${scale.users} ${scale.grants} ${scale.clients}`);
  return h.digest('hex').slice(0, 16);
}

/** Creates a migrated and seeded database at `file` (which must not exist). Returns the seconds it took. */
export function buildDatabase(file: string, scale: Scale): number {
  const started = performance.now();
  const db = openDatabase(file);
  try {
    migrate(db);
    // Bulk-load settings for this connection only; the app opens the file with its own pragmas.
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576'); // 1 GiB
    db.pragma('foreign_keys = OFF'); // the rows are consistent by construction
    seed(db, scale, Math.floor(Date.now() / 1000));
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return (performance.now() - started) / 1000;
}

export interface PreparedDatabase {
  file: string;
  cached: boolean;
  buildSeconds: number;
  bytes: number;
}

/**
 * A fresh copy of a seeded database at `target`. Databases of at least `cacheFrom` grants are built
 * once into `cacheDir` and copied from there afterwards.
 */
export function prepareDatabase(target: string, scale: Scale, cacheDir: string, cacheFrom = 50_000): PreparedDatabase {
  if (scale.grants < cacheFrom) {
    const buildSeconds = buildDatabase(target, scale);
    return { file: target, cached: false, buildSeconds, bytes: fs.statSync(target).size };
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  const cacheFile = path.join(cacheDir, `db-${scale.grants}-${schemaKey(scale)}.sqlite`);
  let cached = true;
  let buildSeconds = 0;
  if (!fs.existsSync(cacheFile)) {
    cached = false;
    // Stale caches of the same size (older schema) are dropped.
    for (const f of fs.readdirSync(cacheDir)) {
      if (f.startsWith(`db-${scale.grants}-`)) fs.rmSync(path.join(cacheDir, f), { force: true });
    }
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    buildSeconds = buildDatabase(tmp, scale);
    for (const suffix of ['-wal', '-shm']) fs.rmSync(`${tmp}${suffix}`, { force: true });
    fs.renameSync(tmp, cacheFile);
  }
  fs.copyFileSync(cacheFile, target);
  // Written out before the app child starts: otherwise the kernel flushes the ~600 MiB copy while the
  // first cases run, and the large database's figures carry that disk work (docs/benchmarks.md,
  // "Round 3: the large database and checkpoints", what was not explained).
  const fd = fs.openSync(target, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { file: target, cached, buildSeconds, bytes: fs.statSync(target).size };
}
