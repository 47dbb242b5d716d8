// The worker thread of checkpoints.ts: its own connection to the database file, a PASSIVE WAL
// checkpoint every interval (never blocks the app's writer or readers), closed on 'stop'.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointMessage } from './checkpoints.ts';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const port = parentPort;
if (!port) throw new Error('checkpoint-worker.ts runs as a worker thread');

const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const send = (msg: CheckpointMessage) => port.postMessage(msg);

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
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
