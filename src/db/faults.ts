// Storage faults (issue 13 item 5): the SQLite errors that mean "the disk or the file", not "a bug".
// They answer 503 with Retry-After (web/error-handler.ts), turn /healthz `degraded` with the cause
// while writes fail (web/health.route.ts), are logged once per kind per minute with what to do, and
// counted (robot_auth_storage_faults_total). Classification is by SQLite's result code:
//   SQLITE_FULL (and SQLITE_IOERR_WRITE/…FSYNC with ENOSPC behind it) → disk_full
//   SQLITE_READONLY*                                                 → read_only
//   SQLITE_BUSY*, SQLITE_LOCKED*  (after busy_timeout, db/open.ts)   → locked
//   SQLITE_CORRUPT*, SQLITE_NOTADB                                   → corrupt
//   SQLITE_IOERR*, SQLITE_CANTOPEN*                                  → io_error
import type { Logger } from '../web/log.ts';

export type StorageFaultKind = 'disk_full' | 'read_only' | 'locked' | 'corrupt' | 'io_error';

/** Seconds a client should wait before retrying, per kind (the Retry-After header). */
export const RETRY_AFTER_SECONDS: Record<StorageFaultKind, number> = {
  disk_full: 60,
  read_only: 60,
  locked: 5,
  corrupt: 300,
  io_error: 60,
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
};

/** Log at most one line per kind per this interval. */
const LOG_INTERVAL_MS = 60_000;
/** Without a new fault or a successful write, `degraded` ends after this (a quiet server recovers too). */
const DEGRADED_FOR_MS = 60_000;

export function storageFaultKind(err: unknown): StorageFaultKind | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
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

export function createStorageHealth(deps: { log: Logger; metrics: { storageFault(kind: StorageFaultKind): void } }): StorageHealth {
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
      deps.log.error(
        { fault: kind, code, sqliteMessage: err instanceof Error ? err.message : String(err), suppressedSinceLastLine: repeated },
        `storage fault (${kind}): answering 503; ${OPERATOR_ADVICE[kind]}`,
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
