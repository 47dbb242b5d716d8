// Storage faults (issue 13 item 5): the SQLite errors that mean "the disk or the file", not "a bug".
// They answer 503 with Retry-After (web/error-handler.ts), turn /healthz `degraded` with the cause
// while writes fail (web/health.route.ts), are logged once per kind per minute with what to do, and
// counted (robot_auth_storage_faults_total). Classification is by SQLite's result code:
//   SQLITE_FULL (and SQLITE_IOERR_WRITE/…FSYNC with ENOSPC behind it) → disk_full
//   SQLITE_READONLY*                                                 → read_only
//   SQLITE_BUSY*, SQLITE_LOCKED*  (after busy_timeout, db/open.ts)   → locked
//   SQLITE_CORRUPT*, SQLITE_NOTADB                                   → corrupt
//   SQLITE_IOERR*, SQLITE_CANTOPEN*                                  → io_error
// PostgreSQL (DATABASE_URL, issue 12): the same path, classified by SQLSTATE or the socket error:
//   connection refused/reset/timed out, class 08, 57P01-03, 53300, pg's "Connection terminated",
//   PostgresUnavailableError (src/db/postgres/pool.ts)                → unreachable
//   53100 disk_full → disk_full; 25006 read-only transaction (a standby) → read_only;
//   55P03 lock_not_available, 57014 statement timeout → locked; XX001/XX002 → corrupt; 58030 → io_error
// Only errors that came out of the PostgreSQL store count (instrumentStore in db/instrument.ts marks
// them): an outbound fetch's ECONNREFUSED is no storage fault. The operator's advice differs per
// store (OPERATOR_ADVICE vs POSTGRES_ADVICE): StorageHealth is told which store it watches.
import type { Logger } from '../web/log.ts';

export type StorageFaultKind = 'disk_full' | 'read_only' | 'locked' | 'corrupt' | 'io_error' | 'unreachable';
export type StorageDialect = 'sqlite' | 'postgres';

/** Seconds a client should wait before retrying, per kind (the Retry-After header). */
export const RETRY_AFTER_SECONDS: Record<StorageFaultKind, number> = {
  disk_full: 60,
  read_only: 60,
  locked: 5,
  corrupt: 300,
  io_error: 60,
  unreachable: 10,
};

/** What the operator should do: the log line says it. */
export const OPERATOR_ADVICE: Record<StorageFaultKind, string> = {
  disk_full: 'the disk holding DATA_DIR is full: free space (old pre-migration backups, logs); service resumes by itself',
  read_only:
    'the database file or its file system is read-only: check the mount (dmesg for I/O errors, remount rw) and the file owner and mode; service resumes by itself',
  locked:
    'another process held the database lock past the 5 s busy timeout: look for a long admin command or a stuck backup (fuser DATA_DIR/robot-auth.sqlite)',
  corrupt: 'the database file is corrupt: stop the service and restore the latest backup (docs/operations.md, Restore)',
  io_error: 'the disk returned an I/O error: check dmesg and the disk; then restart the service',
  unreachable: 'the database cannot be reached: check the disk holding DATA_DIR; then restart the service',
};

/** What the operator should do when the store is PostgreSQL (DATABASE_URL). */
export const POSTGRES_ADVICE: Record<StorageFaultKind, string> = {
  unreachable:
    'PostgreSQL at DATABASE_URL is unreachable or dropped the connection: check that the server is running and reachable from this host ' +
    '(systemctl status postgresql, pg_isready), that max_connections covers every instance\'s DATABASE_POOL_SIZE, and pg_hba.conf; service resumes by itself',
  disk_full: 'the PostgreSQL server\'s disk is full: free space on the database server; service resumes by itself',
  read_only: 'PostgreSQL refuses writes (a read-only standby, or default_transaction_read_only): point DATABASE_URL at the primary; service resumes by itself',
  locked: 'a statement waited past statement_timeout (10 s) or for a lock: look for long transactions in pg_stat_activity on the database server',
  corrupt: 'PostgreSQL reports corrupt data: stop the service and restore the database from its backup (docs/operations.md, PostgreSQL)',
  io_error: 'the PostgreSQL server reported an I/O error: check the database server\'s disk and logs',
};

export function adviceFor(kind: StorageFaultKind, dialect: StorageDialect = 'sqlite'): string {
  return (dialect === 'postgres' ? POSTGRES_ADVICE : OPERATOR_ADVICE)[kind];
}

/** Socket errors of a connection to a networked database (node's errno codes). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
/** pg's own messages when the connection is lost or cannot be had (they carry no code). */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended unexpectedly',
  'Cannot use a pool after calling end on the pool',
];

/** PostgreSQL's SQLSTATE (five characters) and node's socket codes, for an error the PostgreSQL store threw. */
export function postgresFaultKind(err: unknown): StorageFaultKind | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const code = e.code;
  if (e.name === 'PostgresUnavailableError') return 'unreachable';
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return 'unreachable';
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return 'unreachable';
    if (code === '53100') return 'disk_full';
    if (code === '25006') return 'read_only';
    if (code === '55P03' || code === '57014') return 'locked';
    if (code === 'XX001' || code === 'XX002') return 'corrupt';
    if (code === '58030') return 'io_error';
  }
  const message = typeof e.message === 'string' ? e.message.slice(0, 200) : '';
  if (code === undefined && PG_CONNECTION_MESSAGES.some((m) => message.startsWith(m))) return 'unreachable';
  return undefined;
}

const STORE_FAULT = Symbol.for('robot-auth.store-fault');

/** Marks an error the store threw as a storage fault of `kind` (storageFaultKind then finds it, through `cause` too). */
export function markStoreFault(err: unknown, kind: StorageFaultKind): void {
  if (typeof err === 'object' && err !== null && Object.isExtensible(err)) (err as { [STORE_FAULT]?: StorageFaultKind })[STORE_FAULT] = kind;
}

/** Log at most one line per kind per this interval. */
const LOG_INTERVAL_MS = 60_000;
/** Without a new fault or a successful write, `degraded` ends after this (a quiet server recovers too). */
const DEGRADED_FOR_MS = 60_000;

export function storageFaultKind(err: unknown): StorageFaultKind | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const marked = (e as { [STORE_FAULT]?: StorageFaultKind })[STORE_FAULT];
    if (marked !== undefined) return marked;
    if ((e as { name?: unknown }).name === 'PostgresUnavailableError') return 'unreachable';
    if (typeof code !== 'string' || !code.startsWith('SQLITE_')) continue;
    if (code === 'SQLITE_FULL') return 'disk_full';
    if (code.startsWith('SQLITE_READONLY')) return 'read_only';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'locked';
    if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'corrupt';
    if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) {
      return /no space|ENOSPC|disk is full/i.test(String((e as { message?: unknown }).message).slice(0, 200)) ? 'disk_full' : 'io_error';
    }
  }
  return undefined;
}

export interface StorageHealth {
  /** Undefined when healthy; else the kind of the latest fault and when it began. */
  current(now?: number): { cause: StorageFaultKind; since: string } | undefined;
  /** Records a fault: counted, logged once per kind per minute, `degraded` from now on. */
  fault(kind: StorageFaultKind, err: unknown): void;
  /** A write committed: not degraded any more. */
  writeSucceeded(): void;
}

export function createStorageHealth(deps: {
  log: Logger;
  metrics: { storageFault(kind: StorageFaultKind): void };
  /** Which store is watched (the advice in the log line); SQLite unless said. */
  dialect?: StorageDialect;
  /** PostgreSQL: the server, password redacted (src/db/postgres/pool.ts redactUrl), named in the log line. */
  database?: string;
}): StorageHealth {
  let degraded: { cause: StorageFaultKind; since: number; last: number } | undefined;
  const lastLogged = new Map<StorageFaultKind, number>();
  const suppressed = new Map<StorageFaultKind, number>();
  /** An error seen by the write wrapper (db/instrument.ts) reaches the error handler too: counted once. */
  const seen = new WeakSet<object>();
  return {
    current(now = Date.now()) {
      if (degraded === undefined) return undefined;
      if (now - degraded.last > DEGRADED_FOR_MS) {
        degraded = undefined;
        return undefined;
      }
      return { cause: degraded.cause, since: new Date(degraded.since).toISOString() };
    },
    fault(kind, err) {
      if (typeof err === 'object' && err !== null) {
        if (seen.has(err)) return;
        seen.add(err);
      }
      const now = Date.now();
      deps.metrics.storageFault(kind);
      degraded = { cause: kind, since: degraded?.cause === kind ? degraded.since : now, last: now };
      if (now - (lastLogged.get(kind) ?? 0) < LOG_INTERVAL_MS) {
        suppressed.set(kind, (suppressed.get(kind) ?? 0) + 1);
        return;
      }
      lastLogged.set(kind, now);
      const code = (err as { code?: unknown })?.code;
      const repeated = suppressed.get(kind) ?? 0;
      suppressed.delete(kind);
      const message = err instanceof Error ? err.message : String(err);
      const detail = deps.dialect === 'postgres' ? { postgresMessage: message, database: deps.database } : { sqliteMessage: message };
      deps.log.error(
        { fault: kind, code, ...detail, suppressedSinceLastLine: repeated },
        `storage fault (${kind}): answering 503; ${adviceFor(kind, deps.dialect)}`,
      );
    },
    writeSucceeded() {
      if (degraded !== undefined) {
        deps.log.info({ fault: degraded.cause, since: new Date(degraded.since).toISOString() }, 'storage recovered: writes succeed again');
        degraded = undefined;
      }
    },
  };
}
