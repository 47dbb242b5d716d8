// The application context: everything a request handler may use, built once at start-up and
// passed down explicitly (no module-level singletons).
// Storage (issue 12): SQLite at DATABASE_FILE by default (migrated here; src/server.ts backs it up
// first), or PostgreSQL when DATABASE_URL is set: connect, migrate under the advisory lock, and the
// store over that pool (src/storage/open-store.ts); the platform keys then live in PostgreSQL too
// when PLATFORM_KEYS_KEK is set (src/config/key-source.postgres.ts). The SQLite-only parts (the WAL
// checkpointer, the backup before migrating, the write instrumentation) hang off `sqlite`, which
// PostgreSQL mode does not have; its storage faults are observed on the store (instrumentStore).
import type { Config } from './config/env.ts';
import { loadOrCreateKeyFile, loadPlatformKeySets, type PlatformKeys, type PrivateJwk } from './config/keys.ts';
import { openDatabase, type Db } from './db/open.ts';
import { migrate } from './db/migrate.ts';
import { createAtprotoClient, type AtprotoClient } from './atproto/client.ts';
import { cookieNames } from './accounts/cookies.ts';
import { sessionIdentifier } from './accounts/current-user.ts';
import { sealAtprotoRows } from './storage/atproto-stores.ts';
import { createSealer, sealingJwksOf, type Sealer } from './lib/sealing.ts';
import { keyStoreFor } from './config/key-source.ts';
import { createKeyReloader, type KeyReloader } from './config/key-reload.ts';
import { createClientResolver, type ClientResolver } from './oauth/clients/resolve-client.ts';
import { clientAssertionVerifierFor, type ClientAssertionVerifier } from './oauth/token/client-assertion.ts';
import { createAccessTokenVerifier, type AccessTokenVerifier } from './oauth/tokens/access-token.ts';
import { createCsrf, type Csrf } from './web/csrf.ts';
import { createLogger, type Logger } from './web/log.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { createStorageHealth, type StorageHealth } from './db/faults.ts';
import { instrumentStore, instrumentWrites } from './db/instrument.ts';
import { redactUrl, type PgPool } from './db/postgres/pool.ts';
import { sqliteKeyRows, type PlatformKeyRows } from './config/key-source.ts';
import { postgresKeyRows } from './config/key-source.postgres.ts';
import { openPostgresStore } from './storage/open-store.ts';
import { createAuditLog, type AuditLog } from './audit/audit-log.ts';
import { createSqliteStore } from './storage/sqlite/sqlite-store.ts';
import type { Store } from './storage/store.ts';

export interface AppContext {
  config: Config;
  /**
   * All storage (src/storage/store.ts): the SQLite store on DATABASE_FILE's connection, or the
   * PostgreSQL store when DATABASE_URL is set. Nothing else in the context reads the database.
   */
  store: Store;
  /**
   * SQLite only (DATABASE_URL unset): the store's connection and its file, for what looks after the
   * file itself: the WAL checkpointer (src/server.ts). Not for reading or writing rows: use `store`.
   */
  sqlite?: { db: Db; file: string };
  log: Logger;
  /** The access-token key set (MCP access tokens, /.well-known/jwks.json; also seeds the CSRF secret). */
  platformKeys: PlatformKeys;
  /** The wikis' identity-token key set (src/accounts/identity-token.ts): never trusted for access tokens. */
  identityKeys: PlatformKeys;
  /** Seals the ATProto stores' secrets at rest (key derived from the platform key file). */
  sealer: Sealer;
  /** Re-reads the platform keys when they change (src/config/key-reload.ts); src/server.ts starts its poll. */
  keyReloader: KeyReloader;
  accessTokens: AccessTokenVerifier;
  /** The ATProto OAuth client (sign-in), loaded on first use: `await ctx.atproto.get()` (src/atproto/client.ts). */
  atproto: AtprotoClient;
  csrf: Csrf;
  /** Registered clients and (fetched, cached) client ID metadata documents. */
  clientResolver: ClientResolver;
  /** private_key_jwt client assertions (RFC 7523): key sets fetched and cached, jti used once. */
  clientAssertions: ClientAssertionVerifier;
  /** Prometheus metrics (src/metrics/): tiny typed counters; the registry is served on METRICS_PORT. */
  metrics: Metrics;
  /** Storage faults seen on writes (src/db/faults.ts): /healthz `degraded`, 503s. */
  storage: StorageHealth;
  /** The audit log of security events (src/audit/audit-log.ts). */
  audit: AuditLog;
  /** Stops the key reloader and closes the database (SQLite connection, or PostgreSQL pools). */
  close(): Promise<void>;
}

export interface ContextOptions {
  log?: Logger;
  /** Open this database instead of config.databaseFile (tests use ':memory:'). SQLite only. */
  db?: Db;
}

interface OpenedStorage {
  /** SQLite: the connection and its file. */
  sqlite?: { db: Db; file: string };
  keyRows: () => PlatformKeyRows;
  /** PostgreSQL: the store, its pool and the redacted URL (for the operator's log lines). */
  postgres?: { store: Store; pool: PgPool; database: string };
}

async function openStorage(config: Config, options: ContextOptions, log: Logger): Promise<OpenedStorage> {
  if (config.databaseUrl === undefined) {
    const db = options.db ?? openDatabase(config.databaseFile);
    const applied = migrate(db);
    if (applied.length > 0) log.info({ applied }, 'database migrated');
    return { sqlite: { db, file: db.name }, keyRows: () => sqliteKeyRows(db) };
  }
  if (options.db !== undefined) throw new Error('createContext: options.db is a SQLite connection, but DATABASE_URL names PostgreSQL');
  const database = redactUrl(config.databaseUrl);
  const { store, pool, applied } = await openPostgresStore(config, { log });
  if (applied.length > 0) log.info({ applied, database }, 'database migrated');
  return { keyRows: () => postgresKeyRows(pool), postgres: { store, pool, database } };
}

export async function createContext(config: Config, options: ContextOptions = {}): Promise<AppContext> {
  const log = options.log ?? createLogger(config.logLevel);
  const opened = await openStorage(config, options, log);
  try {
    return await buildContext(config, log, opened);
  } catch (err) {
    // PostgreSQL: nothing left open (SQLite's connection is the caller's to close, as before).
    await opened.postgres?.store.close().catch(() => {});
    throw err;
  }
}

async function buildContext(config: Config, log: Logger, opened: OpenedStorage): Promise<AppContext> {
  const mayGenerateKeys = !config.production;
  const { sqlite, postgres } = opened;
  // The platform keys: the key file, or the database under PLATFORM_KEYS_KEK (src/config/key-source.ts).
  const keyStore = keyStoreFor(config, opened.keyRows);
  const keysVersion = await keyStore.version();
  const keySets = await loadPlatformKeySets(keyStore, mayGenerateKeys, undefined, {
    alg: config.accessTokenAlg,
    ttlSeconds: config.accessTokenTtlSeconds,
  });
  const { access: platformKeys, identity: identityKeys } = keySets;
  const atprotoKeys = await loadOrCreateKeyFile(config.atprotoClientKeysFile, 'ES256', mayGenerateKeys);
  const metrics = createMetrics();
  const storage = postgres
    ? createStorageHealth({ log, metrics, dialect: 'postgres', database: postgres.database })
    : createStorageHealth({ log, metrics });
  let store: Store;
  if (postgres) {
    store = instrumentStore(postgres.store, { metrics, storage });
  } else if (sqlite) {
    instrumentWrites(sqlite.db, { metrics, storage });
    // After instrumentWrites, so its statements are timed too; ctx.close() closes the connection.
    store = createSqliteStore(sqlite.db, { closeDatabase: false });
  } else {
    throw new Error('createContext: no store was opened');
  }
  const sealer = createSealer(sealingJwksOf(keySets.jwks));
  // Development may have just written the keys (first start): what we loaded is then the new version.
  const loadedVersion = await keyStore.version();
  const summary = (keys: PrivateJwk[]) => keys.map((k) => `${k.kid}/${k.purpose ?? ''}/${k.retire_after ?? ''}`).join(',');
  const sameAsLoaded = loadedVersion === keysVersion || summary(await keyStore.read()) === summary(keySets.jwks);
  const keyReloader = createKeyReloader({ store: keyStore, keys: { platformKeys, identityKeys, sealer }, config, log }, sameAsLoaded ? loadedVersion : keysVersion);
  const sealed = await sealAtprotoRows(store, { sealer, log });
  if (sealed.sealed + sealed.resealed + sealed.deleted > 0) log.info({ ...sealed }, 'ATProto stores sealed at rest with the current key');
  const atproto = createAtprotoClient({ config, store, log }, atprotoKeys, { sealer, log });
  return {
    config,
    store,
    ...(sqlite ? { sqlite } : {}),
    log,
    platformKeys,
    identityKeys,
    sealer,
    keyReloader,
    accessTokens: createAccessTokenVerifier({ config, keys: platformKeys }),
    atproto,
    csrf: createCsrf(config, platformKeys, { cookieName: cookieNames(config).csrf, sessionIdentifier: sessionIdentifier(config) }),
    metrics,
    storage,
    audit: createAuditLog({ store, log, metrics }),
    clientResolver: createClientResolver({
      store,
      log,
      metrics,
      allowPrivateAddresses: !config.production,
      privateHosts: config.outboundPrivateHosts,
      documentsEnabled: config.clientIdMetadataDocuments,
      maxCachedDocuments: config.maxCachedClientDocuments,
    }),
    clientAssertions: clientAssertionVerifierFor(
      { store, config },
      { allowPrivateAddresses: !config.production, privateHosts: config.outboundPrivateHosts, timeoutMs: 5000, maxBytes: 64 * 1024 },
    ),
    async close() {
      keyReloader.stop();
      if (sqlite) {
        if (sqlite.db.open) sqlite.db.close();
      } else {
        await store.close();
      }
    },
  };
}
