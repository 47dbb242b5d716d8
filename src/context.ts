// The application context: everything a request handler may use, built once at start-up and
// passed down explicitly (no module-level singletons).
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
import { createUsersRepo, type UsersRepo } from './accounts/users.repo.ts';
import { createSessionsRepo, type SessionsRepo } from './accounts/sessions.repo.ts';
import { createTicketsRepo, type TicketsRepo } from './accounts/tickets.repo.ts';
import { createWikisRepo, type WikisRepo } from './wikis/wikis.repo.ts';
import { createGrantsRepo, type GrantsRepo } from './oauth/grants/grants.repo.ts';
import { createAuthorizationRequestsRepo, type AuthorizationRequestsRepo } from './oauth/authorize/authorization-requests.repo.ts';
import { createCodesRepo, type CodesRepo } from './oauth/authorize/codes.repo.ts';
import { createRefreshTokensRepo, type RefreshTokensRepo } from './oauth/token/refresh-tokens.repo.ts';
import { createClientsRepo, type ClientsRepo } from './oauth/clients/clients.repo.ts';
import { createClientResolver, type ClientResolver } from './oauth/clients/resolve-client.ts';
import { clientAssertionVerifierFor, type ClientAssertionVerifier } from './oauth/token/client-assertion.ts';
import { createAccessTokenVerifier, type AccessTokenVerifier } from './oauth/tokens/access-token.ts';
import { createRevokedAccessTokensRepo, type RevokedAccessTokensRepo } from './oauth/tokens/revoked-access-tokens.repo.ts';
import { createCsrf, type Csrf } from './web/csrf.ts';
import { createLogger, type Logger } from './web/log.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { createStorageHealth, type StorageHealth } from './db/faults.ts';
import { instrumentWrites } from './db/instrument.ts';
import { createAuditLog, type AuditLog } from './audit/audit-log.ts';
import { createSqliteStore } from './storage/sqlite/sqlite-store.ts';
import type { Store } from './storage/store.ts';

export interface AppContext {
  config: Config;
  db: Db;
  /**
   * The async storage seam (src/storage/store.ts). This round it is the SQLite store over `db` itself
   * (one connection); the callers switched so far: the token endpoint, /revoke and the client
   * assertion jti. The repositories below are the same tables, synchronously, for the rest.
   */
  store: Store;
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
  users: UsersRepo;
  wikis: WikisRepo;
  sessions: SessionsRepo;
  tickets: TicketsRepo;
  grants: GrantsRepo;
  authorizationRequests: AuthorizationRequestsRepo;
  codes: CodesRepo;
  refreshTokens: RefreshTokensRepo;
  revokedAccessTokens: RevokedAccessTokensRepo;
  clients: ClientsRepo;
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
  close(): void;
}

export interface ContextOptions {
  log?: Logger;
  /** Open this database instead of config.databaseFile (tests use ':memory:'). */
  db?: Db;
}

export async function createContext(config: Config, options: ContextOptions = {}): Promise<AppContext> {
  const log = options.log ?? createLogger(config.logLevel);
  const mayGenerateKeys = !config.production;
  const db = options.db ?? openDatabase(config.databaseFile);
  const applied = migrate(db);
  if (applied.length > 0) log.info({ applied }, 'database migrated');
  // The platform keys: the key file, or the database under PLATFORM_KEYS_KEK (src/config/key-source.ts).
  const keyStore = keyStoreFor(config, db);
  const keysVersion = await keyStore.version();
  const keySets = await loadPlatformKeySets(keyStore, mayGenerateKeys, undefined, {
    alg: config.accessTokenAlg,
    ttlSeconds: config.accessTokenTtlSeconds,
  });
  const { access: platformKeys, identity: identityKeys } = keySets;
  const atprotoKeys = await loadOrCreateKeyFile(config.atprotoClientKeysFile, 'ES256', mayGenerateKeys);
  const metrics = createMetrics();
  const storage = createStorageHealth({ log, metrics });
  instrumentWrites(db, { metrics, storage });
  // Over the same connection as the repositories below (after instrumentWrites, so its statements
  // are timed too); ctx.close() closes the connection, not the store.
  const store = createSqliteStore(db, { closeDatabase: false });
  const sealer = createSealer(sealingJwksOf(keySets.jwks));
  // Development may have just written the keys (first start): what we loaded is then the new version.
  const loadedVersion = await keyStore.version();
  const summary = (keys: PrivateJwk[]) => keys.map((k) => `${k.kid}/${k.purpose ?? ''}/${k.retire_after ?? ''}`).join(',');
  const sameAsLoaded = loadedVersion === keysVersion || summary(await keyStore.read()) === summary(keySets.jwks);
  const keyReloader = createKeyReloader({ store: keyStore, keys: { platformKeys, identityKeys, sealer }, config, log }, sameAsLoaded ? loadedVersion : keysVersion);
  const sealed = await sealAtprotoRows(store, { sealer, log });
  if (sealed.sealed + sealed.resealed + sealed.deleted > 0) log.info({ ...sealed }, 'ATProto stores sealed at rest with the current key');
  const atproto = createAtprotoClient({ config, store, log }, atprotoKeys, { sealer, log });
  const clients = createClientsRepo(db);
  return {
    config,
    db,
    store,
    log,
    platformKeys,
    identityKeys,
    sealer,
    keyReloader,
    accessTokens: createAccessTokenVerifier({ config, keys: platformKeys }),
    atproto,
    csrf: createCsrf(config, platformKeys, { cookieName: cookieNames(config).csrf, sessionIdentifier: sessionIdentifier(config) }),
    users: createUsersRepo(db),
    wikis: createWikisRepo(db),
    sessions: createSessionsRepo(db),
    tickets: createTicketsRepo(db),
    grants: createGrantsRepo(db),
    authorizationRequests: createAuthorizationRequestsRepo(db),
    codes: createCodesRepo(db),
    refreshTokens: createRefreshTokensRepo(db),
    revokedAccessTokens: createRevokedAccessTokensRepo(db),
    clients,
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
    close() {
      keyReloader.stop();
      if (db.open) db.close();
    },
  };
}
