// The worker thread of checkpoints.ts: its own connection to the database file, one checkpoint per
// interval, closed on 'stop'.
//
// Each pass is PASSIVE first: it copies the WAL into the database file without blocking the app's
// writer or readers. SQLite starts the WAL over only when a commit finds every frame already copied,
// which under steady writes never happens (commits land while the pass runs), so the WAL would grow
// without limit (measured: 470 MiB after 10,000 refreshes on the 1M-grant bench database). When the
// WAL holds more than `restartAfterFrames`, the PASSIVE pass is followed by a RESTART checkpoint: it
// takes the writer lock only to copy what was committed during the PASSIVE pass (a few ms), and the
// next commit starts the WAL over from its beginning (then journal_size_limit cuts the file back).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointMessage } from './checkpoints.ts';

const { file, intervalMs, restartAfterBytes } = workerData as { file: string; intervalMs: number; restartAfterBytes: number };
const port = parentPort;
if (!port) throw new Error('checkpoint-worker.ts runs as a worker thread');

const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const send = (msg: CheckpointMessage) => port.postMessage(msg);
/** A WAL frame is a page and its 24-byte header. */
const restartAfterFrames = Math.max(1, Math.floor(restartAfterBytes / ((db.pragma('page_size', { simple: true }) as number) + 24)));

type CheckpointResult = { busy: number; log: number; checkpointed: number };

const timer = setInterval(() => {
  try {
    const [passive] = db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[];
    if (passive && passive.log >= restartAfterFrames) db.pragma('wal_checkpoint(RESTART)');
  } catch (err) {
    send({ type: 'error', message: String(err) });
  }
}, intervalMs);

port.on('message', (msg: unknown) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
send({ type: 'ready' });
