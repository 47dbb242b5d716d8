// WAL checkpoints off the request path (SQLite "Write-Ahead Logging", §6 Checkpointing; §7 WAL size).
// By default SQLite checkpoints inside the commit that takes the WAL past 1000 pages: that request
// copies the pages into the database file and fsyncs it (10–23 ms on the 580 MiB bench database,
// docs/benchmarks.md). In the server, the app's connection turns automatic checkpoints off and a
// worker thread with its own connection runs PASSIVE checkpoints every CHECKPOINT_INTERVAL_MS: a
// PASSIVE checkpoint never blocks or waits for the writer or readers, so requests only append to
// the WAL. After a complete checkpoint the next commit starts the WAL over from its beginning, and
// journal_size_limit truncates a WAL file that a burst made larger than WAL_SIZE_LIMIT_BYTES. Under
// steady writes no worker pass ends complete, so once the WAL passes WAL_SIZE_LIMIT_BYTES the worker
// catches up and this thread copies the last few frames itself (a few ms, between two requests),
// which makes the next commit start the WAL over: the WAL stays near WAL_SIZE_LIMIT_BYTES.
//
// Durability is unchanged: synchronous stays as open.ts sets it (NORMAL: a commit is in the WAL before
// the response; the checkpoint fsyncs the database file). If the worker stops, the app's connection
// goes back to automatic checkpoints and the operator gets an error line. Only the server starts
// this (src/server.ts); the admin CLI and tests keep SQLite's default.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../web/log.ts';
import type { Db } from './open.ts';

export const CHECKPOINT_INTERVAL_MS = 1000;
/** The WAL file is cut back to this size after a checkpoint that emptied it. */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** SQLite's default wal_autocheckpoint, restored if the worker stops. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface Checkpointer {
  /** Settles when the worker has opened its connection (true) or could not start (false). */
  ready: Promise<boolean>;
  /** Stops the worker and closes its connection (before the app's own close, which then removes the WAL). */
  stop(): Promise<void>;
}

/** Messages from the worker. */
export type CheckpointMessage = { type: 'ready' } | { type: 'error'; message: string } | { type: 'wal-long'; frames: number };

export function startCheckpointer(
  db: Db,
  file: string,
  log: Pick<Logger, 'error' | 'warn'>,
  intervalMs = CHECKPOINT_INTERVAL_MS,
  walLimitBytes = WAL_SIZE_LIMIT_BYTES,
): Checkpointer {
  db.pragma(`journal_size_limit = ${walLimitBytes}`);
  db.pragma('wal_autocheckpoint = 0');
  // Its cost: ~20 MiB of RSS (a second V8 isolate); smaller resourceLimits did not lower it.
  const worker = new Worker(new URL('./checkpoint-worker.ts', import.meta.url), { workerData: { file, intervalMs, restartAfterBytes: walLimitBytes } });
  worker.unref();
  let settleReady: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (settleReady = resolve));
  let stopping = false;
  let fellBack = false;
  const fallBack = (why: string) => {
    if (stopping || fellBack || !db.open) return;
    fellBack = true;
    db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    log.error({ why }, 'the WAL checkpoint worker stopped; SQLite checkpoints inside requests again (restart the service to move them back off the request path)');
  };
  worker.on('message', (msg: CheckpointMessage) => {
    if (msg.type === 'ready') settleReady(true);
    // The worker has copied all but the last few frames of a long WAL: this thread, the only
    // writer, copies those between two requests, so the next commit starts the WAL over.
    if (msg.type === 'wal-long' && db.open && !stopping) {
      try {
        db.pragma('wal_checkpoint(PASSIVE)');
      } catch (err) {
        log.warn({ err: String(err) }, 'WAL checkpoint failed; retrying on the next interval');
      }
    }
    if (msg.type === 'error') log.warn({ err: msg.message }, 'WAL checkpoint failed; retrying on the next interval');
  });
  worker.on('error', (err) => fallBack(String(err)));
  worker.on('exit', (code) => {
    settleReady(false);
    fallBack(`exit code ${code}`);
  });
  return {
    ready,
    stop: () =>
      new Promise<void>((resolve) => {
        if (stopping) return resolve();
        stopping = true;
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 2000);
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        worker.postMessage('stop');
      }),
  };
}
