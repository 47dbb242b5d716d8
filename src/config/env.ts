// Configuration: read once at start-up from the environment (and an optional .env file),
// validated with zod, and passed down as a typed object. Nothing else reads process.env.
import fs from 'node:fs';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { dnsLabels } from '../lib/dns-name.ts';

export const DEFAULT_RESERVED_USERNAMES = [
  'www', 'api', 'auth', 'admin', 'administrator', 'root', 'mail', 'email', 'smtp', 'imap', 'mx',
  'mcp', 'oauth', 'sso', 'id', 'identity', 'account', 'accounts', 'static', 'assets', 'cdn', 'img',
  'media', 'files', 'login', 'logout', 'signin', 'signup', 'register', 'status', 'health', 'healthz',
  'docs', 'doc', 'help', 'support', 'blog', 'about', 'security', 'abuse', 'postmaster', 'hostmaster',
  'webmaster', 'dev', 'staging', 'test', 'app', 'dashboard', 'billing', 'wiki', 'wikis', 'robot',
  'platform', 'system', 'internal', 'localhost', 'ns1', 'ns2', 'ftp',
  // Names that other software looks up on subdomains (mail autoconfiguration, MTA-STS, proxy
  // auto-discovery, name servers): a wiki there could answer for the whole domain.
  'autoconfig', 'autodiscover', 'mta-sts', 'wpad', 'pop', 'pop3', 'imaps', 'ns3', 'ns4',
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const positiveInt = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: `must be a positive integer, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** Like positiveInt, but 0 is allowed (it means "none"/"off" for the variable that uses it). */
const nonNegativeInt = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number (0 or more), got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const httpUrl = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    try {
      const u = new URL(v.trim());
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
      return u.href.replace(/\/$/, '');
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be an http(s) URL, got "${v}"` });
      return z.NEVER;
    }
  });

/**
 * DATABASE_URL (issue 12): unset means SQLite at DATABASE_FILE; otherwise a PostgreSQL URL. The
 * message never repeats the value, which may hold a password.
 */
const postgresUrl = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    let url: URL | undefined;
    try {
      url = new URL(v.trim());
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || url.hostname === '') {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a postgres:// or postgresql:// URL with a host (e.g. postgres://robot_auth:PASSWORD@db.internal:5432/robot_auth), or unset to use SQLite at DATABASE_FILE',
      });
      return z.NEVER;
    }
    return v.trim();
  });

/** An address range, as ipaddr.js parses `a.b.c.d/n` or `x:y::/n`. */
export type TrustedNetwork = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** A comma-separated list of CIDR ranges (IPv4 or IPv6); empty means none. */
const cidrList = z
  .string()
  .optional()
  .transform((v, ctx): TrustedNetwork[] => {
    const entries = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const networks: TrustedNetwork[] = [];
    for (const entry of entries) {
      try {
        networks.push(ipaddr.parseCIDR(entry));
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of CIDR ranges like 160.79.104.0/21 or 2001:db8::/32, got "${entry}"` });
        return z.NEVER;
      }
    }
    return networks;
  });

/**
 * OUTBOUND_PRIVATE_HOSTS: comma-separated exact host names, each optionally with `:port`, lower-cased.
 * Names only: no wildcards, no IP addresses or ranges (name the host, e.g. in /etc/hosts).
 */
const hostList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const entries = (v ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    for (const entry of entries) {
      const [name = '', port, extra] = entry.split(':');
      const validPort = port === undefined || (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535);
      if (extra !== undefined || !validPort || !isHostName(name)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${entry}" is not a host name or host:port (exact names only: no wildcards, IP addresses or ranges)`,
        });
        return z.NEVER;
      }
    }
    return [...new Set(entries)];
  });

const envSchema = z.object({
  PORT: positiveInt(3000).refine((n) => n < 65536, 'must be a port number'),
  HOST: optionalString,
  PUBLIC_URL: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const raw = v === undefined || v.trim() === '' ? undefined : v.trim();
      if (raw === undefined) return undefined;
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be an origin like https://example.com, got "${raw}"` });
        return z.NEVER;
      }
      // The issuer identifier (RFC 8414 §2) is compared byte for byte by clients: keep it a bare origin.
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== raw) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a bare origin (scheme://host[:port], no path, no trailing slash), got "${raw}"`,
        });
        return z.NEVER;
      }
      return raw;
    }),
  DATA_DIR: optionalString,
  DATABASE_FILE: optionalString,
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_SIZE: positiveInt(10),
  PLATFORM_KEYS_FILE: optionalString,
  ATPROTO_CLIENT_KEYS_FILE: optionalString,
  ATPROTO_PLC_URL: httpUrl,
  ATPROTO_HANDLE_RESOLVER: httpUrl,
  COOKIE_DOMAIN: optionalString,
  RESERVED_USERNAMES: optionalString,
  TRUST_PROXY: optionalString,
  ACCESS_TOKEN_TTL_SECONDS: positiveInt(3600),
  ACCESS_TOKEN_ALG: z.enum(['RS256', 'ES256']).optional().default('RS256'),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt(60 * 60 * 24 * 30),
  REFRESH_GRACE_SECONDS: positiveInt(60),
  SESSION_TTL_SECONDS: positiveInt(60 * 60 * 24),
  CLIENT_IDLE_PURGE_SECONDS: positiveInt(60 * 60 * 24 * 7),
  RATE_LIMIT_LOGIN_PER_MINUTE: positiveInt(20),
  RATE_LIMIT_REGISTER_PER_MINUTE: positiveInt(120),
  RATE_LIMIT_TOKEN_PER_MINUTE: positiveInt(600),
  RATE_LIMIT_DISCOVERY_PER_MINUTE: positiveInt(1200),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional().default('info'),
  PLATFORM_NAME: optionalString,
  RATE_LIMIT_CLIENT_PER_MINUTE: positiveInt(6000),
  RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: positiveInt(60),
  RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: positiveInt(1200),
  RATE_LIMIT_TRUSTED_NETWORKS: cidrList,
  // Let's Encrypt issues at most 50 new certificates per registered domain per rolling week (renewals
  // are exempt). In on-demand TLS mode every new wiki costs one: 7 a day is 49 a week, so a steady
  // stream of sign-ups (or ~50 throwaway accounts) can never spend the week's quota. In wildcard-dns
  // mode no per-wiki certificate is issued: raise it to what you are prepared to host.
  NEW_WIKIS_PER_DAY: positiveInt(7),
  OUTBOUND_PRIVATE_HOSTS: hostList,
  CLIENT_ID_METADATA_DOCUMENTS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v.trim() === '' ? 'on' : v.trim().toLowerCase();
      if (value !== 'on' && value !== 'off') {
        ctx.addIssue({ code: 'custom', message: `must be on or off, got "${v}"` });
        return z.NEVER;
      }
      return value === 'on';
    }),
  UNUSED_CLIENT_PURGE_SECONDS: positiveInt(60 * 60),
  MAX_UNUSED_CLIENTS: positiveInt(10_000),
  MAX_CACHED_CLIENT_DOCUMENTS: positiveInt(10_000),
  // Prometheus metrics on their own listener (src/metrics/metrics-server.ts): a port, or `off`.
  METRICS_PORT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v.trim() === '' ? '9464' : v.trim().toLowerCase();
      if (value === 'off') return undefined;
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0 || n >= 65536) {
        ctx.addIssue({ code: 'custom', message: `must be a port number or off, got "${v}"` });
        return z.NEVER;
      }
      return n;
    }),
  METRICS_HOST: optionalString,
  AUDIT_RETENTION_DAYS: positiveInt(90),
  // Issue 14 (src/wikis/create-wiki.ts, delete-wiki.ts; src/accounts/delete-account.ts).
  WIKIS_PER_USER: nonNegativeInt(3),
  DELETED_SLUG_RESERVE_DAYS: nonNegativeInt(30),
  DELETED_USERNAME_RESERVE_DAYS: nonNegativeInt(90),
  // Issue 12: platform keys in the database, sealed under this key-encryption key (src/config/key-source.ts).
  PLATFORM_KEYS_KEK: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const raw = v === undefined || v.trim() === '' ? undefined : v.trim();
      if (raw === undefined) return undefined;
      if (!/^[A-Za-z0-9_-]{43}$/.test(raw) || Buffer.from(raw, 'base64url').length !== 32) {
        ctx.addIssue({ code: 'custom', message: 'must be 32 random bytes in base64url (43 characters): `openssl rand 32 | basenc --base64url | tr -d =`' });
        return z.NEVER;
      }
      return raw;
    }),
  PLATFORM_KEYS_POLL_SECONDS: positiveInt(5),
  JWKS_MAX_AGE_SECONDS: nonNegativeInt(300),
});

/** Every environment variable the service reads (documented in .env.example). */
export const ENV_VARIABLES = Object.keys(envSchema.shape);

export interface Config {
  port: number;
  /** Interface to listen on; undefined means all interfaces. Development defaults to 127.0.0.1. */
  host: string | undefined;
  /** Apex origin, also the OAuth issuer: `https://wiki.example` (no trailing slash). */
  publicUrl: string;
  /** `https:` or `http:`. */
  scheme: 'http:' | 'https:';
  /** host[:port] of the apex; wiki hosts are `{slug}.{apexHost}`. */
  apexHost: string;
  /** https PUBLIC_URL ⇒ production: explicit keys, Secure cookies, confidential ATProto client. */
  production: boolean;
  dataDir: string;
  databaseFile: string;
  /** PostgreSQL connection URL (DATABASE_URL); undefined = SQLite at databaseFile. */
  databaseUrl: string | undefined;
  /** Connections per instance in the PostgreSQL pool (DATABASE_POOL_SIZE). */
  databasePoolSize: number;
  platformKeysFile: string;
  atprotoClientKeysFile: string;
  atprotoPlcUrl: string | undefined;
  atprotoHandleResolver: string | undefined;
  cookieDomain: string | undefined;
  reservedUsernames: ReadonlySet<string>;
  /** Express "trust proxy" value: which peers may set X-Forwarded-*. */
  trustProxy: string;
  accessTokenTtlSeconds: number;
  /** How MCP access tokens are signed (the first access key must be of this kind; see src/config/keys.ts). */
  accessTokenAlg: 'RS256' | 'ES256';
  refreshTokenTtlSeconds: number;
  refreshGraceSeconds: number;
  sessionTtlSeconds: number;
  /** A client that obtained tokens, holds no grant and has not been used for this long is deleted. */
  clientIdlePurgeSeconds: number;
  /** A client (registration or cached metadata document) that never obtained a token is deleted this long after it appeared. */
  unusedClientPurgeSeconds: number;
  /**
   * Past this many registrations that never obtained a token, /register answers 503 (src/oauth/clients/client-caps.ts).
   * Default 10,000: a registration is at most ~17 KB stored (16 KB body), so ≤ 170 MB, a few % of a 10 GB VM disk.
   */
  maxUnusedClients: number;
  /** Past this many cached client ID metadata documents, a new one is refused (503). Default 10,000: ≤ 110 MB at 10 KiB each. */
  maxCachedClientDocuments: number;
  rateLimits: { loginPerMinute: number; registerPerMinute: number; tokenPerMinute: number; discoveryPerMinute: number };
  logLevel: string;
  platformName: string;
  /** Budgets keyed by who is asking, not by address (src/web/rate-limits.ts has the table). */
  keyedRateLimits: { clientPerMinute: number; refreshPerGrantPerMinute: number; mcpPerGrantPerMinute: number };
  /** Client addresses that skip every per-address limit (RATE_LIMIT_TRUSTED_NETWORKS). */
  rateLimitTrustedNetworks: readonly TrustedNetwork[];
  /** At most this many wikis are created per rolling 24 hours (src/wikis/new-wiki-cap.ts). */
  newWikisPerDay: number;
  /** Host names (or host:port) that outbound fetches may reach on private addresses in production. */
  outboundPrivateHosts: readonly string[];
  /** CLIENT_ID_METADATA_DOCUMENTS: accept https client_ids (advertised in AS metadata); off → DCR only. */
  clientIdMetadataDocuments: boolean;
  /** METRICS_PORT/METRICS_HOST: where /metrics listens (never the public port); undefined port: off. */
  metrics: { port: number | undefined; host: string };
  /** AUDIT_RETENTION_DAYS: audit log entries are purged after this many days. */
  auditRetentionDays: number;
  /** WIKIS_PER_USER: how many wikis a person may have in all (0: only the first, made at signup). */
  wikisPerUser: number;
  /** DELETED_SLUG_RESERVE_DAYS: a deleted wiki's slug is held this long (only its last owner may take it back); 0 frees it at once. */
  deletedSlugReserveDays: number;
  /** DELETED_USERNAME_RESERVE_DAYS: a deleted account's username and wiki slugs are held this long; 0 frees them at once. */
  deletedUsernameReserveDays: number;
  /** PLATFORM_KEYS_KEK: set ⇒ the platform keys live in the database, sealed under it (src/config/key-source.ts). */
  platformKeysKek: string | undefined;
  /** PLATFORM_KEYS_POLL_SECONDS: how often a running instance checks whether the key set changed. */
  platformKeysPollSeconds: number;
  /** JWKS_MAX_AGE_SECONDS: how long verifiers may cache our key sets; a rotated key signs only after it (src/config/jwks-cache.ts). */
  jwksMaxAgeSeconds: number;
}

/** Reads `.env` (if present) into process.env without overriding variables already set. */
export function loadDotEnv(file = '.env'): void {
  if (fs.existsSync(file)) process.loadEnvFile(file);
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const publicUrl = e.PUBLIC_URL ?? `http://localhost:${e.PORT}`;
  const url = new URL(publicUrl);
  const production = url.protocol === 'https:';
  if (!production && !isLoopbackHostname(url.hostname)) {
    throw new ConfigError(
      `Invalid configuration:\n  PUBLIC_URL: an http URL is only allowed for local development on localhost, got "${publicUrl}"; use https in production`,
    );
  }
  const dataDir = path.resolve(e.DATA_DIR ?? './data');
  if (production) {
    // With PLATFORM_KEYS_KEK the platform keys are in the database: only the ATProto client key file is needed.
    const missing = (['PLATFORM_KEYS_FILE', 'ATPROTO_CLIENT_KEYS_FILE'] as const).filter((k) => !e[k] && !(k === 'PLATFORM_KEYS_FILE' && e.PLATFORM_KEYS_KEK));
    if (missing.length > 0) {
      throw new ConfigError(
        `Invalid configuration:\n${missing.map((k) => `  ${k}: required when PUBLIC_URL is https (production never generates keys); create them with \`npm run admin -- keys generate\``).join('\n')}`,
      );
    }
  }
  if (production) {
    // Production fetches over https only (src/lib/outbound/policy.ts): say so now, not at first sign-in.
    const plain = (['ATPROTO_PLC_URL', 'ATPROTO_HANDLE_RESOLVER'] as const).filter((k) => e[k]?.startsWith('http:'));
    if (plain.length > 0) {
      throw new ConfigError(
        `Invalid configuration:\n${plain.map((k) => `  ${k}: must be https when PUBLIC_URL is https (production never fetches over http)`).join('\n')}`,
      );
    }
  }
  const cookieDomain = e.COOKIE_DOMAIN;
  if (cookieDomain !== undefined) {
    const bare = cookieDomain.replace(/^\./, '');
    if (url.hostname !== bare && !url.hostname.endsWith(`.${bare}`)) {
      throw new ConfigError(
        `Invalid configuration:\n  COOKIE_DOMAIN: "${cookieDomain}" does not cover the PUBLIC_URL host "${url.hostname}"`,
      );
    }
  }
  // The operator's list extends the built-in one: it can never un-reserve `www` or `autodiscover`.
  const reserved = [
    ...DEFAULT_RESERVED_USERNAMES,
    ...(e.RESERVED_USERNAMES ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
  ];
  return {
    port: e.PORT,
    // Development may fetch from private addresses (the local PDS is on loopback): listening on
    // every interface would make it an SSRF relay for the whole LAN.
    host: e.HOST ?? (production ? undefined : '127.0.0.1'),
    publicUrl,
    scheme: url.protocol as 'http:' | 'https:',
    apexHost: url.host,
    production,
    dataDir,
    databaseFile: e.DATABASE_FILE ? path.resolve(e.DATABASE_FILE) : path.join(dataDir, 'robot-auth.sqlite'),
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    platformKeysFile: e.PLATFORM_KEYS_FILE ? path.resolve(e.PLATFORM_KEYS_FILE) : path.join(dataDir, 'keys', 'platform-keys.json'),
    atprotoClientKeysFile: e.ATPROTO_CLIENT_KEYS_FILE
      ? path.resolve(e.ATPROTO_CLIENT_KEYS_FILE)
      : path.join(dataDir, 'keys', 'atproto-client-keys.json'),
    atprotoPlcUrl: e.ATPROTO_PLC_URL,
    atprotoHandleResolver: e.ATPROTO_HANDLE_RESOLVER,
    cookieDomain,
    reservedUsernames: new Set(reserved),
    trustProxy: e.TRUST_PROXY ?? 'loopback',
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    accessTokenAlg: e.ACCESS_TOKEN_ALG,
    refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
    refreshGraceSeconds: e.REFRESH_GRACE_SECONDS,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    clientIdlePurgeSeconds: e.CLIENT_IDLE_PURGE_SECONDS,
    unusedClientPurgeSeconds: e.UNUSED_CLIENT_PURGE_SECONDS,
    maxUnusedClients: e.MAX_UNUSED_CLIENTS,
    maxCachedClientDocuments: e.MAX_CACHED_CLIENT_DOCUMENTS,
    rateLimits: {
      loginPerMinute: e.RATE_LIMIT_LOGIN_PER_MINUTE,
      registerPerMinute: e.RATE_LIMIT_REGISTER_PER_MINUTE,
      tokenPerMinute: e.RATE_LIMIT_TOKEN_PER_MINUTE,
      discoveryPerMinute: e.RATE_LIMIT_DISCOVERY_PER_MINUTE,
    },
    logLevel: e.LOG_LEVEL,
    platformName: e.PLATFORM_NAME ?? 'robot.wtf',
    keyedRateLimits: {
      clientPerMinute: e.RATE_LIMIT_CLIENT_PER_MINUTE,
      refreshPerGrantPerMinute: e.RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE,
      mcpPerGrantPerMinute: e.RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE,
    },
    rateLimitTrustedNetworks: e.RATE_LIMIT_TRUSTED_NETWORKS,
    newWikisPerDay: e.NEW_WIKIS_PER_DAY,
    outboundPrivateHosts: e.OUTBOUND_PRIVATE_HOSTS,
    clientIdMetadataDocuments: e.CLIENT_ID_METADATA_DOCUMENTS,
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST ?? '127.0.0.1' },
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    wikisPerUser: e.WIKIS_PER_USER,
    deletedSlugReserveDays: e.DELETED_SLUG_RESERVE_DAYS,
    deletedUsernameReserveDays: e.DELETED_USERNAME_RESERVE_DAYS,
    platformKeysKek: e.PLATFORM_KEYS_KEK,
    platformKeysPollSeconds: e.PLATFORM_KEYS_POLL_SECONDS,
    jwksMaxAgeSeconds: e.JWKS_MAX_AGE_SECONDS,
  };
}

export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** A DNS host name: dot-separated labels of letters, digits and inner hyphens, not all-numeric. */
function isHostName(name: string): boolean {
  if (name.length === 0 || /^[\d.]+$/.test(name)) return false;
  return dnsLabels(name) !== undefined;
}
