// The worker threads of checkpoints.ts, each with its own connection to the database file. Two roles:
//
// - 'routine' (background priority): one PASSIVE checkpoint per interval. It copies the WAL into the
//   database file without blocking the app's writer or readers. It closes on 'stop', or by itself
//   once every frame has been copied for `idleStopMs` (it then reports the WAL file as it saw it
//   before its last pass, so the app's thread starts a new one when the WAL changes after that).
//   Its thread runs at `nice` (Linux: a thread's nice value is its own, not the process's): a pass
//   copies 10,000-25,000 frames under a saturated core (15-34 ms of CPU), and at the app's priority
//   the scheduler split the core half and half for 50-100 ms, so every request in flight waited for
//   it (docs/benchmarks.md, rounds 7 and 8). At nice 10 it gets ~10 % of a busy core, several times
//   what copying needs at full load, and all of an idle one.
//
// - 'catch-up' (the app's priority): started by the app's thread once the WAL file is past its limit,
//   it answers each 'catch-up' message. SQLite starts the WAL over only when a commit finds every
//   frame already copied, which under steady writes never happens (commits land while a pass runs),
//   so the WAL would grow without limit (measured: 470 MiB after 10,000 refreshes on the 1M-grant
//   bench database). PASSIVE passes follow one another, each copying what was committed during the
//   previous one, until one finds fewer than `caughtUpFrames` new frames; then the worker tells the
//   app's thread ('wal-long'), which copies the last few frames itself, between two requests
//   (checkpoints.ts): as the only writer it finishes with every frame copied, and its next commit
//   starts the WAL over (journal_size_limit then cuts the file back). At background priority the
//   catch-up never caught up (a pass's two fsyncs take 10-20 ms at any priority, and its copy is
//   slower: ~500 frames were left for the request thread, 17-22 ms), and the WAL's bound depended on
//   idle CPU: with other processes loading the cores it grew to 370 MiB (round 8). So the catch-up,
//   which only copies what the routine passes have not, runs at the app's priority, in a thread the
//   app's thread creates (a thread cannot raise its own priority back without privileges). It
//   closes on 'stop', or after `idleStopMs` without a request.
//
// A pass that finds another connection checkpointing reports log -1: it copied nothing, and is never
// taken for a catch-up. A RESTART checkpoint here would do the catch-up's work but hold the writer lock
// while waiting for readers: measured, commits then waited up to a second, and behind a long reader
// (a backup) on every interval.
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { walSignature, type CheckpointMessage, type CheckpointWorkerData } from './checkpoints.ts';

const { file, role, intervalMs, idleStopMs, nice, caughtUpFrames, walLimitBytes } = workerData as CheckpointWorkerData;
/** The size in a WAL signature ('size:mtime'). */
const walSize = (signature: string) => Number(signature.split(':', 1)[0] || 0);
const port = parentPort;
if (!port) throw new Error('checkpoint-worker.ts runs as a worker thread');
const send = (msg: CheckpointMessage) => port.postMessage(msg);

if (nice !== 0 && process.platform === 'linux') {
  try {
    os.setPriority(0, nice); // this thread only (Linux)
  } catch (err) {
    send({ type: 'priority', message: String(err) });
  }
}
const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');

/** Catch-up passes at most (a writer faster than the copy never lets them shrink). */
const MAX_CATCH_UP_PASSES = 8;

type CheckpointResult = { busy: number; log: number; checkpointed: number };
const passive = () => (db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0] ?? { busy: 0, log: 0, checkpointed: 0 };

let timer: NodeJS.Timeout | undefined;
const close = () => {
  clearInterval(timer);
  clearTimeout(timer);
  db.close();
  port.close();
};
const guarded = (pass: () => void) => () => {
  try {
    pass();
  } catch (err) {
    send({ type: 'error', message: String(err) });
  }
};

if (role === 'routine') {
  /** Passes in a row that found every frame copied. */
  let copiedPasses = 0;
  const idlePasses = Math.max(1, Math.ceil(idleStopMs / intervalMs));
  timer = setInterval(
    guarded(() => {
      const wal = walSignature(file);
      // Past the limit the catch-up copies (at the app's priority): a pass here could hold the
      // checkpoint lock, starved, while the catch-up waits for it.
      if (walSize(wal) > walLimitBytes) return;
      const pass = passive();
      // Every frame copied (a busy reader leaves some behind): idle for this pass.
      copiedPasses = pass.checkpointed === pass.log && pass.busy === 0 ? copiedPasses + 1 : 0;
      if (copiedPasses >= idlePasses) {
        send({ type: 'idle', wal });
        close();
      }
    }),
    intervalMs,
  );
} else {
  const idleLater = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      send({ type: 'idle', wal: '' });
      close();
    }, idleStopMs);
  };
  idleLater();
  const catchUp = guarded(() => {
    let pass = passive();
    let caughtUp = false;
    for (let i = 0; i < MAX_CATCH_UP_PASSES && pass.busy === 0 && !caughtUp; i++) {
      const before = pass.log;
      pass = passive();
      caughtUp = pass.busy === 0 && pass.log - before < caughtUpFrames;
    }
    // Busy: the routine worker is in a pass; what it leaves is asked for again at the next interval
    // (the app's thread copying now could find a whole pass's worth of frames).
    send(pass.busy !== 0 ? { type: 'busy' } : { type: 'wal-long', frames: pass.log, caughtUp });
  });
  port.on('message', (msg: unknown) => {
    if (msg !== 'catch-up') return;
    catchUp();
    idleLater();
  });
}

port.on('message', (msg: unknown) => {
  if (msg === 'stop') close();
});
send({ type: 'ready' });
