// WAL checkpoints off the request path (src/db/checkpoints.ts): with the worker running, commits no
// longer checkpoint (the app's connection has wal_autocheckpoint 0) and the worker copies the WAL
// into the database file within an interval; stop() closes its connection so the app's close
// removes the WAL; if the worker dies, automatic checkpoints come back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCheckpointer, WAL_KEEP_FACTOR, WAL_SIZE_LIMIT_BYTES } from '../../src/db/checkpoints.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';

const dirs: string[] = [];
function freshDb(): { db: Db; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-ckpt-'));
  dirs.push(dir);
  const file = path.join(dir, 'db.sqlite');
  const db = openDatabase(file);
  db.exec('CREATE TABLE t (v BLOB)');
  return { db, file };
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** ~8 MiB in 2,000 small transactions: far past SQLite's 1000-page automatic checkpoint. */
function write(db: Db): void {
  const insert = db.prepare('INSERT INTO t (v) VALUES (randomblob(4096))');
  for (let i = 0; i < 2000; i++) insert.run();
}

const log = () => ({ error: vi.fn(), warn: vi.fn() });

/** The WAL header's checkpoint sequence number: SQLite adds one each time it starts the WAL over. */
function walRestarts(file: string): number {
  const header = Buffer.alloc(16);
  const fd = fs.openSync(`${file}-wal`, 'r');
  try {
    return fs.readSync(fd, header, 0, 16, 0) === 16 ? header.readUInt32BE(12) : 0;
  } finally {
    fs.closeSync(fd);
  }
}
/** A worker that stops after 200 ms idle, on an empty WAL, then ~8 MiB in one go: 16× a 512 KiB `limit`. */
async function burstPastTheLimit(limit: number) {
  const { db, file } = freshDb();
  const l = log();
  db.pragma('wal_checkpoint(TRUNCATE)');
  const checkpointer = startCheckpointer(db, file, l, 20, limit, 200);
  expect(await checkpointer.ready).toBe(true);
  write(db);
  return { db, file, l, checkpointer };
}
/** ~1.5 MiB of WAL in 250 commits of about a frame each: past a 512 KiB `limit`, within WAL_KEEP_FACTOR of it. */
async function walPastTheLimitWithinKeep(limit: number, idleStopMs: number) {
  const { db, file } = freshDb();
  db.pragma('wal_checkpoint(TRUNCATE)');
  const checkpointer = startCheckpointer(db, file, log(), 20, limit, idleStopMs);
  expect(await checkpointer.ready).toBe(true);
  const insert = db.prepare('INSERT INTO t (v) VALUES (randomblob(1000))');
  for (let i = 0; i < 250; i++) insert.run();
  return { db, file, checkpointer, insert };
}
const walSize = (file: string) => fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;

describe('startCheckpointer', () => {
  it('with the worker, commits no longer checkpoint (nothing reaches the database file while it waits)', async () => {
    const { db, file } = freshDb();
    const checkpointer = startCheckpointer(db, file, log(), 60_000); // its first checkpoint is a minute away
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = fs.statSync(file).size;
    write(db);
    expect(fs.statSync(file).size).toBe(before);
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(8 * 1024 * 1024);
    await checkpointer.stop();
    db.close();
  });

  it('the worker copies the WAL into the database file within an interval; stop() lets close remove the WAL', async () => {
    const { db, file } = freshDb();
    const l = log();
    const checkpointer = startCheckpointer(db, file, l, 100);
    write(db);
    await expect.poll(() => fs.statSync(file).size, { timeout: 10_000, interval: 50 }).toBeGreaterThan(8 * 1024 * 1024);
    await checkpointer.stop();
    db.close();
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    expect(l.error).not.toHaveBeenCalled();
  });

  it('under steady writes (a commit every event-loop turn, never a pause) the WAL stays bounded: it is started over past the limit', async () => {
    // Before the RESTART step, no PASSIVE pass ever found the WAL fully copied between two commits,
    // so SQLite never started it over and it grew by every commit (470 MiB after 10,000 refreshes
    // on the 1M-grant bench database).
    const { db, file } = freshDb();
    const l = log();
    const limit = 512 * 1024;
    const checkpointer = startCheckpointer(db, file, l, 20, limit);
    expect(await checkpointer.ready).toBe(true);
    const insert = db.prepare('INSERT INTO t (v) VALUES (randomblob(4096))');
    // The worker starts on the first write (it can take a second on a loaded machine).
    insert.run();
    await expect.poll(() => checkpointer.running(), { timeout: 10_000, interval: 5 }).toBe(true);
    const started = performance.now();
    let commits = 0;
    const first = walRestarts(file);
    // Commits, one per turn, never a pause, until the WAL has been started over three times and the
    // commits came to far past the limit (16×). On a quiet machine this takes well under a second;
    // the 15 s cap is for a machine whose other load starves the worker for a while (the WAL then
    // grows until the worker runs).
    while ((walRestarts(file) - first < 3 || commits * 4096 <= 16 * limit) && performance.now() - started < 15_000) {
      insert.run();
      commits++;
      await new Promise((r) => setImmediate(r));
    }
    await checkpointer.stop();
    expect(commits * 4096).toBeGreaterThan(16 * limit);
    // Without the restart step the WAL is never started over: it grows by every commit.
    expect(walRestarts(file) - first).toBeGreaterThanOrEqual(3);
    expect(l.error).not.toHaveBeenCalled();
    // Nothing was lost: every row is there.
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: commits + 1 });
    db.close();
  });

  it('a long reader elsewhere (a backup) does not hold commits up while the WAL is past the limit', async () => {
    // Keeping the WAL bounded must not take the writer lock and wait for readers: a RESTART
    // checkpoint in the worker did, and with a reader that stays (an `ra-admin backup` on its own
    // connection) every commit waited up to the worker's busy timeout (1,083 ms measured).
    const { db, file } = freshDb();
    const limit = 256 * 1024;
    const checkpointer = startCheckpointer(db, file, log(), 20, limit);
    expect(await checkpointer.ready).toBe(true);
    const insert = db.prepare('INSERT INTO t (v) VALUES (randomblob(4096))');
    for (let i = 0; i < 100; i++) insert.run(); // past the limit
    await expect.poll(() => checkpointer.running(), { timeout: 10_000, interval: 5 }).toBe(true);
    const reader = openDatabase(file);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get(); // holds its snapshot until COMMIT
    let slowest = 0;
    const started = performance.now();
    while (performance.now() - started < 1500) {
      const t = performance.now();
      insert.run();
      slowest = Math.max(slowest, performance.now() - t);
      await new Promise((r) => setTimeout(r, 1));
    }
    reader.exec('COMMIT');
    reader.close();
    await checkpointer.stop();
    expect(slowest).toBeLessThan(300);
    db.close();
  });

  it('a worker that cannot run hands checkpoints back to SQLite and tells the operator', async () => {
    const { db, file } = freshDb();
    const l = log();
    // A WAL with frames is there (the worker starts on it) but its database file is not.
    fs.writeFileSync(`${file}.missing-wal`, 'frames');
    startCheckpointer(db, `${file}.missing`, l, 100);
    await expect.poll(() => l.error.mock.calls.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(l.error).toHaveBeenCalledTimes(1);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.close();
  });

  it('no worker runs until the first write; it stops once everything is copied and starts again on the next write', async () => {
    // Idle RSS (issue 11, < 100 MiB): the worker's V8 isolate is ~13 MiB, needed only while there is
    // something to copy.
    const { db, file } = freshDb();
    const l = log();
    db.pragma('wal_checkpoint(TRUNCATE)'); // start from an empty WAL, as a service at rest does
    const checkpointer = startCheckpointer(db, file, l, 20, WAL_SIZE_LIMIT_BYTES, 200);
    expect(await checkpointer.ready).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // fifteen intervals with nothing written
    expect(checkpointer.running()).toBe(false);

    const before = fs.statSync(file).size;
    write(db);
    await expect.poll(() => checkpointer.running(), { timeout: 5_000, interval: 5 }).toBe(true);
    await expect.poll(() => fs.statSync(file).size, { timeout: 10_000, interval: 20 }).toBeGreaterThan(before + 8 * 1024 * 1024);
    // Everything copied for 200 ms: it stops by itself (and stays stopped: its own close changes nothing).
    await expect.poll(() => checkpointer.running(), { timeout: 5_000, interval: 20 }).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(checkpointer.running()).toBe(false);

    // The next write starts it again, and what it writes is copied.
    const after = fs.statSync(file).size;
    write(db);
    await expect.poll(() => checkpointer.running(), { timeout: 5_000, interval: 5 }).toBe(true);
    await expect.poll(() => fs.statSync(file).size, { timeout: 10_000, interval: 20 }).toBeGreaterThan(after + 7 * 1024 * 1024);
    await checkpointer.stop();
    expect(checkpointer.running()).toBe(false);
    expect(l.error).not.toHaveBeenCalled();
    expect(l.warn).not.toHaveBeenCalled();
    // Automatic checkpoints stay off throughout: an idle stop is no failure.
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    db.close();
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
  });

  it('a commit that starts a long WAL over reuses the file: no cut-back inside the request', async () => {
    // SQLite cut the file back to journal_size_limit in that commit, on the request thread: an
    // ftruncate of 5-8 ms at 64-95 MiB, 130 ms at 486 MiB (docs/benchmarks.md, round 9).
    const limit = 512 * 1024;
    const { db, file, checkpointer, insert } = await walPastTheLimitWithinKeep(limit, 60_000);
    const long = walSize(file);
    expect(long).toBeGreaterThan(2 * limit);
    expect(long).toBeLessThan(WAL_KEEP_FACTOR * limit);
    const first = walRestarts(file);
    // A commit every few ms until one starts the WAL over (the worker and then this thread copy it first).
    await expect
      .poll(
        () => {
          insert.run();
          return walRestarts(file);
        },
        { timeout: 10_000, interval: 5 },
      )
      .toBeGreaterThan(first);
    expect(walSize(file)).toBeGreaterThanOrEqual(long); // started over from the file's start, not cut back
    await checkpointer.stop();
    db.close();
  });

  it('after a burst past the limit that no commit follows, the worker gives the space back and stops', async () => {
    // SQLite starts the WAL over (and used to cut the file back) only in a commit. After a burst past
    // the limit and then no write, the WAL stays long and fully copied: the worker asked the app's
    // thread to copy "the rest" every interval and never stopped (an isolate kept alive until the
    // next commit, which on a quiet service can be hours away). Now the idle worker truncates it.
    const limit = 512 * 1024;
    const { db, file, l, checkpointer } = await burstPastTheLimit(limit);
    await expect.poll(() => checkpointer.running(), { timeout: 10_000, interval: 5 }).toBe(true);
    await expect.poll(() => checkpointer.running(), { timeout: 10_000, interval: 20 }).toBe(false);
    expect(walSize(file)).toBe(0); // given back, with no commit since
    await new Promise((r) => setTimeout(r, 300));
    expect(checkpointer.running()).toBe(false);
    expect(l.error).not.toHaveBeenCalled();
    // Nothing lost, and the next commit writes a WAL from nothing, which starts a worker again.
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2000 });
    db.prepare('INSERT INTO t (v) VALUES (randomblob(4096))').run();
    expect(walSize(file)).toBeGreaterThan(0);
    expect(walSize(file)).toBeLessThan(limit);
    await expect.poll(() => checkpointer.running(), { timeout: 10_000, interval: 5 }).toBe(true);
    await checkpointer.stop();
    db.close();
  });

  it('under light steady writes the worker stops without truncating; it gives the space back once no commit comes', async () => {
    // Each pass copies everything when commits are small and sparse, so the worker stops every
    // idle period while commits go on; a truncation then would hold the writer lock (5-8 ms at
    // 64-95 MiB) against a live commit. Only a window with no commit at all truncates.
    const limit = 512 * 1024;
    const { db, file, checkpointer, insert } = await walPastTheLimitWithinKeep(limit, 200);
    await expect.poll(() => checkpointer.running(), { timeout: 10_000, interval: 5 }).toBe(true);
    // A commit every 30 ms until the worker has stopped once (everything copied for 200 ms).
    let stopped = false;
    const started = performance.now();
    while (!stopped && performance.now() - started < 10_000) {
      insert.run();
      await new Promise((r) => setTimeout(r, 30));
      stopped = !checkpointer.running();
    }
    expect(stopped).toBe(true);
    expect(walSize(file)).toBeGreaterThan(limit); // not truncated while commits came
    // One last commit starts a worker again; with no commit after it, that worker finds the WAL quiet and truncates it.
    insert.run();
    await expect.poll(() => walSize(file), { timeout: 10_000, interval: 20 }).toBe(0);
    await checkpointer.stop();
    db.close();
  });

  it('the idle worker does not wait for a reader on the WAL: the file stays, commits are not held up', async () => {
    // TRUNCATE holds the writer lock while it waits for readers; with the worker's busy timeout a
    // reader that stays (a backup) would hold every commit up that long.
    const limit = 512 * 1024;
    const { db, file, l, checkpointer } = await burstPastTheLimit(limit);
    const reader = openDatabase(file);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get(); // a snapshot at the WAL's end, held until COMMIT
    await expect.poll(() => checkpointer.running(), { timeout: 10_000, interval: 5 }).toBe(true);
    await expect.poll(() => checkpointer.running(), { timeout: 10_000, interval: 20 }).toBe(false);
    expect(walSize(file)).toBeGreaterThan(limit); // left as it is: the reader is still on it
    const t = performance.now();
    db.prepare('INSERT INTO t (v) VALUES (randomblob(4096))').run();
    expect(performance.now() - t).toBeLessThan(300);
    reader.exec('COMMIT');
    reader.close();
    expect(l.error).not.toHaveBeenCalled();
    await checkpointer.stop();
    db.close();
  });

  it('a WAL with frames at start (a crash before the last copy) is copied without waiting for a write', async () => {
    const { db, file } = freshDb();
    write(db); // SQLite's own checkpoints copied most of it; the rest waits in the WAL
    db.pragma('wal_autocheckpoint = 0');
    db.prepare('INSERT INTO t (v) VALUES (randomblob(4096))').run();
    const checkpointer = startCheckpointer(db, file, log(), 20, WAL_SIZE_LIMIT_BYTES, 200);
    await expect.poll(() => checkpointer.running(), { timeout: 5_000, interval: 5 }).toBe(true);
    // It stops only once a pass has found every frame copied.
    await expect.poll(() => checkpointer.running(), { timeout: 5_000, interval: 20 }).toBe(false);
    await checkpointer.stop();
    db.close();
  });

  it('the default (no worker) checkpoints inside commits, as the admin CLI and tests keep it', () => {
    const { db, file } = freshDb();
    const before = fs.statSync(file).size;
    write(db);
    expect(fs.statSync(file).size).toBeGreaterThan(before);
    db.close();
  });
});
