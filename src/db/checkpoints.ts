// WAL checkpoints off the request path (SQLite "Write-Ahead Logging", §6 Checkpointing; §7 WAL size).
// By default SQLite checkpoints inside the commit that takes the WAL past 1000 pages: that request
// copies the pages into the database file and fsyncs it (10–23 ms on the 580 MiB bench database,
// docs/benchmarks.md). In the server, the app's connection turns automatic checkpoints off and a
// worker thread with its own connection runs PASSIVE checkpoints every CHECKPOINT_INTERVAL_MS: a
// PASSIVE checkpoint never blocks or waits for the writer or readers, so requests only append to
// the WAL. After a complete checkpoint the next commit starts the WAL over from its beginning. Under
// steady writes no worker pass ends complete, so once the WAL passes WAL_SIZE_LIMIT_BYTES the worker
// catches up and this thread copies the last few frames itself (a few ms, between two requests),
// which makes the next commit start the WAL over: the WAL stays near WAL_SIZE_LIMIT_BYTES.
//
// The WAL file is not cut back inside a request. A commit that starts the WAL over reuses the file
// from its start; SQLite truncates it there only past journal_size_limit, which is WAL_KEEP_FACTOR
// times the limit (what a burst on a loaded machine reaches before the catch-up: ftruncate of a long
// file took 5-8 ms at 64-95 MiB and 130 ms at 486 MiB on the request thread, docs/benchmarks.md
// round 9). The worker gives the space back instead: when it stops after IDLE_STOP_MS with no commit
// at all, it truncates a WAL file longer than WAL_SIZE_LIMIT_BYTES (checkpoint-worker.ts).
//
// The worker runs only while there is something to copy (idle RSS: its V8 isolate is ~13 MiB of a
// ~106 MiB idle service, docs/benchmarks.md "Round 4"): it starts when the WAL file changes (this
// thread looks at its size and mtime every interval: one stat) and stops by itself once every frame
// has been copied for IDLE_STOP_MS. A WAL that changes while it stops is seen at the next look.
//
// Durability is unchanged: synchronous stays as open.ts sets it (NORMAL: a commit is in the WAL before
// the response; the checkpoint fsyncs the database file). If the worker stops, the app's connection
// goes back to automatic checkpoints and the operator gets an error line. Only the server starts
// this (src/server.ts); the admin CLI and tests keep SQLite's default.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../web/log.ts';
import type { Db } from './open.ts';

export const CHECKPOINT_INTERVAL_MS = 1000;
/** Past this size the worker catches up and the WAL is started over; an idle worker truncates a longer file. */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** journal_size_limit, in WAL limits: a commit that starts the WAL over cuts the file back only past this. */
export const WAL_KEEP_FACTOR = 4;
/** The worker stops after this long with every frame copied; the next change of the WAL starts it again. */
export const IDLE_STOP_MS = 30_000;
/** SQLite's default wal_autocheckpoint, restored if the worker stops. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface Checkpointer {
  /** Settles when the first worker has opened its connection (true) or could not start (false); true at once while none is needed. */
  ready: Promise<boolean>;
  /** Whether a worker is running now (its connection open). */
  running(): boolean;
  /** Stops the worker and closes its connection (before the app's own close, which then removes the WAL). */
  stop(): Promise<void>;
}

/** Messages from the worker. `idle`: it has stopped, with the WAL as it saw it before its last pass (or after truncating it). */
export type CheckpointMessage =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'wal-long'; frames: number }
  | { type: 'idle'; wal: string };

/** The WAL file's size and modification time: changes with every commit ('' when there is no WAL or it is empty). */
export function walSignature(file: string): string {
  const st = fs.statSync(`${file}-wal`, { throwIfNoEntry: false, bigint: true });
  return st === undefined || st.size === 0n ? '' : `${st.size}:${st.mtimeNs}`;
}

export function startCheckpointer(
  db: Db,
  file: string,
  log: Pick<Logger, 'error' | 'warn'>,
  intervalMs = CHECKPOINT_INTERVAL_MS,
  walLimitBytes = WAL_SIZE_LIMIT_BYTES,
  idleStopMs = IDLE_STOP_MS,
): Checkpointer {
  db.pragma(`journal_size_limit = ${walLimitBytes * WAL_KEEP_FACTOR}`);
  db.pragma('wal_autocheckpoint = 0');
  let settleReady: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (settleReady = resolve));
  let worker: Worker | undefined;
  let workerOpen = false;
  let stopping = false;
  let fellBack = false;
  // What the WAL looked like when last known copied; a WAL with frames at start is copied first.
  let seen = '';
  const fallBack = (why: string) => {
    if (stopping || fellBack || !db.open) return;
    fellBack = true;
    clearInterval(watcher);
    db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    log.error({ why }, 'the WAL checkpoint worker stopped; SQLite checkpoints inside requests again (restart the service to move them back off the request path)');
  };

  const start = () => {
    // Its cost: ~13-20 MiB of RSS (a second V8 isolate) while it runs; smaller resourceLimits did not lower it.
    const w = new Worker(new URL('./checkpoint-worker.ts', import.meta.url), { workerData: { file, intervalMs, restartAfterBytes: walLimitBytes, idleStopMs } });
    worker = w;
    w.unref();
    let idle = false;
    w.on('message', (msg: CheckpointMessage) => {
      if (msg.type === 'ready') {
        workerOpen = worker === w;
        settleReady(true);
      }
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
      if (msg.type === 'idle') {
        idle = true;
        seen = msg.wal;
      }
    });
    w.on('error', (err) => fallBack(String(err)));
    w.on('exit', (code) => {
      if (worker === w) {
        worker = undefined;
        workerOpen = false;
      }
      if (idle && code === 0) return;
      settleReady(false);
      fallBack(`exit code ${code}`);
    });
  };

  // One stat per interval on this thread; the worker starts when the WAL has changed since it was last copied.
  const watcher = setInterval(() => {
    if (worker !== undefined || stopping || fellBack) return;
    let now: string;
    try {
      now = walSignature(file);
    } catch (err) {
      log.warn({ err: String(err) }, 'could not look at the WAL file; retrying on the next interval');
      return;
    }
    if (now !== '' && now !== seen) start();
  }, intervalMs);
  watcher.unref();
  // Nothing to wait for until the WAL changes.
  setImmediate(() => {
    if (worker === undefined && !fellBack) settleReady(true);
  });

  return {
    ready,
    running: () => workerOpen,
    stop: () =>
      new Promise<void>((resolve) => {
        if (stopping) return resolve();
        stopping = true;
        clearInterval(watcher);
        const w = worker;
        if (w === undefined) return resolve();
        const timer = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
        w.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        w.postMessage('stop');
      }),
  };
}
