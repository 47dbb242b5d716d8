// What `admin doctor` checks and reports (issue 13 item 1). A check is a small named function that
// looks at the deployment the way a client, a PDS or the proxy sees it and returns data: ok / warn /
// fail, what it saw, and what to do. It never prints (print.ts does) and never throws for a problem
// it is looking for (run.ts turns an unexpected throw or a missed deadline into a `fail` anyway).
import type { OutboundPolicy } from '../../lib/outbound/policy.ts';
import type { Db } from '../../db/open.ts';
import type { PlatformKeyRows } from '../../config/key-source.ts';
import type { Store } from '../../storage/store.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckOutcome {
  status: Exclude<CheckStatus, 'skip'>;
  /** What was seen, in one line. */
  seen: string;
  /** What to do (warn and fail always say). */
  advice?: string;
}

export interface CheckResult {
  name: string;
  /** What the check looks at, for people: "TLS certificate of the apex and the wiki host". */
  title: string;
  status: CheckStatus;
  seen: string;
  advice?: string;
  /** Wall time of the check in milliseconds. */
  ms: number;
}

/** Everything a check may use; each check takes only the part it needs (Pick<DoctorTarget, …>). */
export interface DoctorTarget {
  /** PUBLIC_URL: the issuer and the apex origin. */
  publicUrl: string;
  /** The wiki whose host, PRM and /mcp are checked; undefined when the deployment has none yet. */
  wikiSlug: string | undefined;
  /** The app's own address, as Caddy reaches it (for the on-demand TLS `ask`). */
  appUrl: string;
  /** A PDS whose HTTP Date the local clock is compared with. */
  pdsUrl: string;
  /** Client ID metadata documents this server must be able to fetch, by client name. */
  documents: ReadonlyArray<{ client: string; url: string }>;
  /** The SSRF policy the service fetches documents with (src/lib/outbound/). */
  outboundPolicy: OutboundPolicy;
  /** CLIENT_ID_METADATA_DOCUMENTS: off means documents are not used, so a refusal is only a warning. */
  clientIdMetadataDocuments: boolean;
  platformKeysFile: string;
  /** PLATFORM_KEYS_KEK: set, the platform keys are read from the database instead of the file (src/config/key-source.ts). */
  platformKeysKek?: string | undefined;
  atprotoClientKeysFile: string;
  databaseFile: string;
  /** Opens the service's SQLite database (throws AdminError when there is none). */
  db(): Db;
  /** DATABASE_URL's database, when set: the service's data is there and the SQLite checks do not apply. */
  postgres?: DoctorPostgres;
  /** Directories holding backup files (`*.sqlite`); the pre-migration backups next to the database count too. */
  backupDirs: readonly string[];
  backupMaxAgeDays: number;
  keyMaxAgeDays: number;
  /** A certificate expiring within this many days is a warning (default 14). */
  tlsWarnDays: number;
  /** Deadline of each outbound exchange, and (×2) of each check. */
  timeoutMs: number;
  now(): number;
}

export interface Check {
  name: string;
  title: string;
  /** Checks that must have passed (ok or warn) for this one to mean anything; otherwise it is skipped. */
  requires?: readonly string[];
  run(target: DoctorTarget): Promise<CheckOutcome>;
}

/** What the checks use of PostgreSQL (DATABASE_URL); each call may throw when the server is unreachable. */
export interface DoctorPostgres {
  /** DATABASE_URL with the password redacted. */
  database: string;
  /** The Store on it (a schema with pending migrations is accepted: the database check reports them). */
  store(): Promise<Store>;
  /** Names of the shipped PostgreSQL migrations not yet applied. */
  pendingMigrations(): Promise<string[]>;
  /** The platform key rows (PLATFORM_KEYS_KEK). */
  keyRows(): Promise<PlatformKeyRows>;
  /** When the platform keys in the database last changed (platform_keys_version.updated_at), if ever. */
  keysUpdatedAt(): Promise<number | undefined>;
}
