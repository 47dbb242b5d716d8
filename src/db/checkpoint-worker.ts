// The worker thread of checkpoints.ts: its own connection to the database file, one checkpoint per
// interval, closed on 'stop', or by itself once every frame has been copied for `idleStopMs` (it
// then reports the WAL file as it saw it before its last pass, so the app's thread starts a new
// worker when the WAL changes after that).
//
// Each pass is PASSIVE: it copies the WAL into the database file without blocking the app's writer
// or readers. SQLite starts the WAL over only when a commit finds every frame already copied, which
// under steady writes never happens (commits land while the pass runs), so the WAL would grow
// without limit (measured: 470 MiB after 10,000 refreshes on the 1M-grant bench database). When the
// WAL holds more than `restartAfterFrames`, more PASSIVE passes follow, each copying what was
// committed during the previous one, until one finds fewer than CAUGHT_UP_FRAMES new frames; then
// the worker tells the app's thread ('wal-long'), which copies the last few frames itself, between
// two requests (checkpoints.ts): as the only writer it finishes with every frame copied, and its
// next commit starts the WAL over, reusing the file from its start. A RESTART
// checkpoint here would do the same but hold the writer lock while waiting for readers: measured,
// commits then waited up to a second, and behind a long reader (a backup) on every interval.
//
// Idle (everything copied for `idleStopMs`) and quiet (the WAL file unchanged all that time: no
// commit at all), it gives back the space of a WAL file longer than `restartAfterBytes` with
// one TRUNCATE checkpoint before it stops: the cut-back that SQLite would otherwise do inside a
// request's commit (checkpoints.ts). The ftruncate holds the writer lock (5-8 ms at 64-95 MiB, more
// for a larger file), which a commit arriving then waits for; hence only after a window with no
// commit, not under light steady writes (each pass copies everything then, and the worker stops
// every `idleStopMs` while commits go on: it stops without truncating). It does not wait itself: with
// a writer or a reader on the WAL it leaves the file as it is until the next quiet stop.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { walSignature, type CheckpointMessage } from './checkpoints.ts';

const { file, intervalMs, restartAfterBytes, idleStopMs } = workerData as { file: string; intervalMs: number; restartAfterBytes: number; idleStopMs: number };
const port = parentPort;
if (!port) throw new Error('checkpoint-worker.ts runs as a worker thread');

const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const send = (msg: CheckpointMessage) => port.postMessage(msg);
/** A WAL frame is a page and its 24-byte header. */
const restartAfterFrames = Math.max(1, Math.floor(restartAfterBytes / ((db.pragma('page_size', { simple: true }) as number) + 24)));

/** Frames left for the app's thread to copy (its pause: a few ms, mostly the sync). */
const CAUGHT_UP_FRAMES = 64;
/** Catch-up passes at most (a writer faster than the copy never lets them shrink). */
const MAX_CATCH_UP_PASSES = 8;

type CheckpointResult = { busy: number; log: number; checkpointed: number };
const passive = () => (db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0] ?? { busy: 0, log: 0, checkpointed: 0 };

/** Passes in a row that found every frame copied, and the WAL as it was before the first of them. */
let copiedPasses = 0;
let idleSince = '';
const idlePasses = Math.max(1, Math.ceil(idleStopMs / intervalMs));

const close = () => {
  clearInterval(timer);
  db.close();
  port.close();
};

/** Truncates a copied WAL file longer than the limit (`restartAfterBytes`); true if it did. */
function giveBackSpace(): boolean {
  const size = fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  if (size <= restartAfterBytes) return false;
  // Without waiting: TRUNCATE holds the writer lock while it waits for readers, and the app's
  // commits would wait behind a long reader (a backup) as long as the busy timeout.
  db.pragma('busy_timeout = 0');
  try {
    const done = (db.pragma('wal_checkpoint(TRUNCATE)') as CheckpointResult[])[0];
    return done !== undefined && done.busy === 0;
  } catch {
    return false; // SQLITE_BUSY: a commit or another checkpoint is under way; the next idle stop tries again
  } finally {
    db.pragma('busy_timeout = 1000');
  }
}

/** The WAL as it was when the app's thread was last asked to copy the rest ('wal-long'). */
let askedAt = '';

const timer = setInterval(() => {
  try {
    const wal = walSignature(file);
    let pass = passive();
    const copied = pass.checkpointed === pass.log && pass.busy === 0;
    // A long WAL already copied to its end and unchanged since the app's thread copied the rest:
    // SQLite starts it over only at the next commit, so there is nothing to ask for again (asking
    // every interval kept the worker from ever stopping after a burst that no commit followed).
    if (pass.log < restartAfterFrames || (copied && wal === askedAt)) {
      // Every frame copied (a busy reader leaves some behind): idle for this pass.
      copiedPasses = copied ? copiedPasses + 1 : 0;
      if (copiedPasses === 1) idleSince = wal;
      if (copiedPasses >= idlePasses) {
        // Truncated, the WAL is empty: '' (a commit after this differs from it and starts a worker).
        send({ type: 'idle', wal: wal === idleSince && giveBackSpace() ? '' : wal });
        close();
      }
      return;
    }
    copiedPasses = 0;
    for (let i = 0; i < MAX_CATCH_UP_PASSES; i++) {
      const before = pass.log;
      pass = passive();
      if (pass.log - before < CAUGHT_UP_FRAMES) break;
    }
    askedAt = wal;
    send({ type: 'wal-long', frames: pass.log });
  } catch (err) {
    send({ type: 'error', message: String(err) });
  }
}, intervalMs);

port.on('message', (msg: unknown) => {
  if (msg === 'stop') close();
});
send({ type: 'ready' });
