// WAL checkpoints off the request path (SQLite "Write-Ahead Logging", §6 Checkpointing; §7 WAL size).
// By default SQLite checkpoints inside the commit that takes the WAL past 1000 pages: that request
// copies the pages into the database file and fsyncs it (10–23 ms on the 580 MiB bench database,
// docs/benchmarks.md). In the server, the app's connection turns automatic checkpoints off and worker
// threads with their own connections copy the WAL (checkpoint-worker.ts):
//
// - the routine worker, at background priority (CHECKPOINT_WORKER_NICE), runs a PASSIVE checkpoint
//   every CHECKPOINT_INTERVAL_MS: a PASSIVE checkpoint never blocks or waits for the writer or
//   readers, so requests only append to the WAL, and at background priority its passes take what a
//   busy core has to spare instead of half of it;
// - the catch-up worker, at this thread's priority, keeps the WAL bounded whatever the other load:
//   after a complete checkpoint the next commit starts the WAL over from its beginning, which under
//   steady writes never happens by itself. Once the WAL file is past WAL_SIZE_LIMIT_BYTES (this
//   thread looks at it every interval), the catch-up worker copies until few frames are left and
//   this thread copies those itself (a few ms, between two requests), which makes the next commit
//   start the WAL over and journal_size_limit cut the file back: the WAL stays near the limit.
//
// Each worker runs only while there is something to do (idle RSS: a V8 isolate is ~13 MiB of a
// ~106 MiB idle service, docs/benchmarks.md "Round 4"): the routine one starts when the WAL file
// changes (this thread looks at its size and mtime every interval: one stat) and stops by itself once
// every frame has been copied for IDLE_STOP_MS; the catch-up one starts when the WAL is past its limit
// and stops after IDLE_STOP_MS without being needed. A WAL that changes while they stop is seen at the
// next look.
//
// Durability is unchanged: synchronous stays as open.ts sets it (NORMAL: a commit is in the WAL before
// the response; the checkpoint fsyncs the database file). If a worker fails, the app's connection
// goes back to automatic checkpoints and the operator gets an error line. Only the server starts
// this (src/server.ts); the admin CLI and tests keep SQLite's default.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../web/log.ts';
import type { Db } from './open.ts';

/**
 * How often the routine worker copies and this thread looks at the WAL file. Short, so that each
 * background pass copies at most a quarter of a second of writes and the catch-up at the app's
 * priority finds little left (ES256 refresh at c=64: p99 38.5 / 33.2 / 40.4 ms against 42.0 / 51.8 /
 * 44.0 at 1 s and 44.4 / 45.6 / 56.3 as before, docs/benchmarks.md round 8).
 */
export const CHECKPOINT_INTERVAL_MS = 250;
/** Past this the WAL is caught up and started over; the file is cut back to this size then. */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * The routine worker's nice value (Linux): ~10 % of a core that requests keep busy (CFS weights 110
 * against 1,024), several times what copying needs at full load, and all of an idle one. At 0 each
 * pass took half the core for 50-100 ms: the p99 tail at c=64 (docs/benchmarks.md, rounds 7 and 8).
 */
export const CHECKPOINT_WORKER_NICE = 10;
/** A catch-up pass that finds fewer new frames than this leaves the rest to this thread (0.1-5 ms measured, mostly two fsyncs). */
export const CAUGHT_UP_FRAMES = 64;
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

/** What a worker is started with (tests pass shorter times and smaller limits). */
export interface CheckpointWorkerData {
  file: string;
  role: 'routine' | 'catch-up';
  intervalMs: number;
  idleStopMs: number;
  /** The thread's nice value (Linux); 0 keeps the app's priority. */
  nice: number;
  /** A catch-up pass that finds fewer new frames than this has caught up. */
  caughtUpFrames: number;
  /** Past this the catch-up copies, and the routine worker leaves the WAL to it. */
  walLimitBytes: number;
}

/** Settings of startCheckpointer (tests pass shorter times and smaller limits). */
export interface CheckpointSettings {
  intervalMs: number;
  /** Past this the WAL is caught up and started over. */
  walLimitBytes: number;
  idleStopMs: number;
  /** The routine worker's nice value. */
  nice: number;
  caughtUpFrames: number;
}

/**
 * Messages from a worker. `idle`: it has stopped (the routine one with the WAL as it saw it before
 * its last pass). `wal-long`: the catch-up has left the last frames to this thread. `busy`: the
 * catch-up found the routine worker in a pass and did nothing. `priority`: the thread kept the app's.
 */
export type CheckpointMessage =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'wal-long'; frames: number; caughtUp: boolean }
  | { type: 'busy' }
  | { type: 'priority'; message: string }
  | { type: 'idle'; wal: string };

/** The WAL file's size and modification time: changes with every commit ('' when there is no WAL or it is empty). */
export function walSignature(file: string): string {
  return walFile(file).signature;
}

function walFile(file: string): { size: number; signature: string } {
  const st = fs.statSync(`${file}-wal`, { throwIfNoEntry: false, bigint: true });
  return st === undefined || st.size === 0n ? { size: 0, signature: '' } : { size: Number(st.size), signature: `${st.size}:${st.mtimeNs}` };
}

export function startCheckpointer(db: Db, file: string, log: Pick<Logger, 'error' | 'warn'>, options: Partial<CheckpointSettings> = {}): Checkpointer {
  const settings: CheckpointSettings = {
    intervalMs: CHECKPOINT_INTERVAL_MS,
    walLimitBytes: WAL_SIZE_LIMIT_BYTES,
    idleStopMs: IDLE_STOP_MS,
    nice: CHECKPOINT_WORKER_NICE,
    caughtUpFrames: CAUGHT_UP_FRAMES,
    ...options,
  };
  db.pragma(`journal_size_limit = ${settings.walLimitBytes}`);
  db.pragma('wal_autocheckpoint = 0');
  let settleReady: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (settleReady = resolve));
  let routine: Worker | undefined;
  let routineOpen = false;
  let catchUp: Worker | undefined;
  let catchUpOpen = false;
  /** A 'catch-up' sent and not answered yet. */
  let catchUpAsked = false;
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

  /** A worker of `role`; `onExit` runs when it has ended as it should (idle or stopped). */
  const spawn = (role: CheckpointWorkerData['role'], onReady: () => void, onExit: () => void, onMessage: (msg: CheckpointMessage) => void): Worker => {
    const data: CheckpointWorkerData = { file, role, intervalMs: settings.intervalMs, idleStopMs: settings.idleStopMs, nice: role === 'routine' ? settings.nice : 0, caughtUpFrames: settings.caughtUpFrames, walLimitBytes: settings.walLimitBytes };
    // Its cost: ~13-20 MiB of RSS (a second V8 isolate) while it runs; smaller resourceLimits did not lower it.
    const w = new Worker(new URL('./checkpoint-worker.ts', import.meta.url), { workerData: data });
    w.unref();
    let idle = false;
    w.on('message', (msg: CheckpointMessage) => {
      if (msg.type === 'ready') onReady();
      if (msg.type === 'error') log.warn({ err: msg.message, worker: role }, 'WAL checkpoint failed; retrying on the next interval');
      if (msg.type === 'priority') log.warn({ err: msg.message }, 'the WAL checkpoint worker could not lower its priority; its passes share the core with requests');
      if (msg.type === 'idle') idle = true;
      onMessage(msg);
    });
    w.on('error', (err) => fallBack(String(err)));
    w.on('exit', (code) => {
      onExit();
      if ((idle || stopping) && code === 0) return;
      settleReady(false);
      fallBack(`${role} worker: exit code ${code}`);
    });
    return w;
  };

  const startRoutine = () => {
    const w = spawn(
      'routine',
      () => {
        routineOpen = routine === w;
        settleReady(true);
      },
      () => {
        if (routine === w) [routine, routineOpen] = [undefined, false];
      },
      (msg) => {
        if (msg.type === 'idle') seen = msg.wal;
      },
    );
    routine = w;
  };

  const askCatchUp = () => {
    catchUpAsked = true;
    if (catchUp === undefined) {
      const w = spawn(
        'catch-up',
        () => (catchUpOpen = catchUp === w),
        () => {
          if (catchUp === w) [catchUp, catchUpOpen, catchUpAsked] = [undefined, false, false];
        },
        (msg) => {
          // The catch-up has copied all but the last few frames of a long WAL: this thread, the only
          // writer, copies those between two requests, so the next commit starts the WAL over.
          if (msg.type === 'wal-long' && db.open && !stopping) {
            try {
              db.pragma('wal_checkpoint(PASSIVE)');
            } catch (err) {
              log.warn({ err: String(err) }, 'WAL checkpoint failed; retrying on the next interval');
            }
          }
          if (msg.type === 'wal-long' || msg.type === 'busy' || msg.type === 'error') catchUpAsked = false;
        },
      );
      catchUp = w;
    }
    catchUp.postMessage('catch-up');
  };

  // One stat per interval on this thread: the routine worker starts when the WAL has changed since it
  // was last copied; the catch-up is asked for when the WAL file is past its limit.
  const watcher = setInterval(() => {
    if (stopping || fellBack) return;
    let wal: { size: number; signature: string };
    try {
      wal = walFile(file);
    } catch (err) {
      log.warn({ err: String(err) }, 'could not look at the WAL file; retrying on the next interval');
      return;
    }
    if (routine === undefined && wal.signature !== '' && wal.signature !== seen) startRoutine();
    if (wal.size > settings.walLimitBytes && !catchUpAsked) askCatchUp();
  }, settings.intervalMs);
  watcher.unref();
  // Nothing to wait for until the WAL changes.
  setImmediate(() => {
    if (routine === undefined && !fellBack) settleReady(true);
  });

  const stopWorker = (w: Worker | undefined) =>
    new Promise<void>((resolve) => {
      if (w === undefined) return resolve();
      const timer = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
      w.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      w.postMessage('stop');
    });

  return {
    ready,
    running: () => routineOpen || catchUpOpen,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      clearInterval(watcher);
      await Promise.all([stopWorker(routine), stopWorker(catchUp)]);
    },
  };
}
