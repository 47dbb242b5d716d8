// Storage faults at start-up (issue 13 item 5): a corrupt database file, a read-only or full file
// system, a lock that never clears. Instead of exiting (and systemd restarting into the same fault
// until it gives up), the service listens on its port and answers every request 503 with
// Retry-After — RFC 6749 `temporarily_unavailable` JSON for API paths, a plain page otherwise,
// `/healthz` {"status":"unavailable","cause":…} — logs what to do once a minute, and tries to open
// the database again every few seconds. Once it opens (the file restored, space freed, the mount
// read-write again), the real app takes the port over.
// PostgreSQL (DATABASE_URL): the same, while the server does not answer (or drops the connection
// while migrating); the log line names the server with its password redacted and says what to check.
import fs from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from '../lib/node-http.ts';
import path from 'node:path';
import { adviceFor, postgresFaultKind, RETRY_AFTER_SECONDS, storageFaultKind, type StorageFaultKind } from './faults.ts';
import type { Logger } from '../web/log.ts';

const RETRY_OPEN_MS = 3000;
const LOG_EVERY_MS = 60_000;

/**
 * File-system errors seen before SQLite runs (creating the data directory or the file), and
 * SQLite's. SQLite cannot create its -shm file on a read-only mount and says SQLITE_CANTOPEN: the
 * directory's writability tells the operator the real cause.
 */
export function startFaultKind(err: unknown, databaseFile?: string): StorageFaultKind | undefined {
  const code = (err as { code?: unknown })?.code;
  if (code === 'EROFS') return 'read_only';
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'disk_full';
  if (code === 'EIO') return 'io_error';
  const kind = storageFaultKind(err);
  if (kind === 'io_error' && databaseFile !== undefined) {
    try {
      fs.accessSync(path.dirname(databaseFile), fs.constants.W_OK);
    } catch (probe) {
      if ((probe as NodeJS.ErrnoException).code === 'EROFS') return 'read_only';
    }
  }
  return kind;
}

const API_PREFIXES = ['/auth/oauth/token', '/auth/oauth/register', '/auth/oauth/revoke', '/token', '/register', '/.well-known/', '/mcp', '/auth/verify'];

function answer(kind: StorageFaultKind, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const headers = { 'Retry-After': String(RETRY_AFTER_SECONDS[kind]), 'Cache-Control': 'no-store', Connection: 'close' };
  if (path === '/healthz') {
    res.writeHead(503, { ...headers, 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'unavailable', database: 'unreachable', cause: kind }));
  } else if (API_PREFIXES.some((p) => path.startsWith(p)) || (req.headers.accept ?? '').includes('application/json')) {
    res
      .writeHead(503, { ...headers, 'Content-Type': 'application/json' })
      .end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Please try again in a few minutes.' }));
  } else {
    res
      .writeHead(503, { ...headers, 'Content-Type': 'text/html; charset=utf-8' })
      .end('<!doctype html><meta charset="utf-8"><title>Temporarily unavailable</title><h1>Temporarily unavailable</h1><p>The service cannot reach its storage right now. Please try again in a few minutes.</p>');
  }
}

/**
 * Runs `open` until it succeeds. While it fails for a storage fault, a stand-in server on
 * `listen` answers 503; any other error is thrown (a bug or a configuration error: exit as before).
 */
export async function openWhenStorageAllows<T>(
  open: () => Promise<T>,
  listen: { port: number; host: string | undefined; databaseFile?: string; /** PostgreSQL: the server, password redacted. */ database?: string },
  log: Pick<Logger, 'error' | 'info'>,
): Promise<T> {
  let standIn: Server | undefined;
  let kind: StorageFaultKind | undefined;
  let lastLogged = 0;
  for (;;) {
    try {
      const opened = await open();
      if (standIn) {
        const closing = standIn;
        await new Promise<void>((resolve) => {
          closing.close(() => resolve());
          closing.closeAllConnections();
        });
        log.info({ fault: kind }, 'storage recovered: the database opened; starting');
      }
      return opened;
    } catch (err) {
      const found = listen.database !== undefined ? (storageFaultKind(err) ?? postgresFaultKind(err)) : startFaultKind(err, listen.databaseFile);
      if (found === undefined) throw err;
      kind = found;
      // Listening before the line that says so: whoever reads "answering 503" can be answered.
      if (!standIn) {
        const current = (): StorageFaultKind => kind ?? 'io_error';
        standIn = http.createServer((req, res) => answer(current(), req, res));
        const server = standIn;
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(listen.port, listen.host, () => resolve());
        });
      }
      if (Date.now() - lastLogged >= LOG_EVERY_MS) {
        lastLogged = Date.now();
        const code = (err as { code?: unknown }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
        log.error(
          { fault: kind, code, cause: err instanceof Error ? err.message : String(err), ...(listen.database !== undefined ? { database: listen.database } : {}) },
          `storage fault at start-up (${kind}): answering 503 and retrying every ${RETRY_OPEN_MS / 1000} s; ${adviceFor(kind, listen.database !== undefined ? 'postgres' : 'sqlite')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_OPEN_MS));
    }
  }
}
