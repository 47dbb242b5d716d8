// Group commit in the SQLite store (src/storage/sqlite/sqlite-store.ts rules 1–4): transactions
// queued together share one BEGIN IMMEDIATE … COMMIT, each in its own savepoint. What must hold:
// every caller is answered only after the shared COMMIT (a second connection sees nothing of the
// group before), a unit that throws undoes only its own writes and rejects only its own caller,
// a COMMIT that fails rejects every unit and leaves nothing on disk, and more than MAX_GROUP
// queued units all commit. The COMMIT failure is a real one: a deferred foreign-key violation,
// which SQLite checks at COMMIT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../../src/db/migrate.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { createSqliteStore, MAX_GROUP } from '../../src/storage/sqlite/sqlite-store.ts';
import type { Store } from '../../src/storage/store.ts';

const FAR = 4_000_000_000;
let dir: string;
let db: Db;
let store: Store;
/** A second connection on the same file: sees only what is committed. */
let observer: Database.Database;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'group-commit-'));
  const file = path.join(dir, 'app.sqlite');
  db = openDatabase(file);
  migrate(db);
  store = createSqliteStore(db);
  observer = new Database(file, { readonly: true });
});
afterEach(async () => {
  observer.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const committed = (jti: string) => observer.prepare('SELECT 1 FROM revoked_access_tokens WHERE jti = ?').get(jti) !== undefined;
const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

describe('SQLite group commit', () => {
  it('concurrent transactions share one COMMIT: none is answered, and a second connection sees none of them, before it', async () => {
    const answered: number[] = [];
    const seenUncommitted: string[] = [];
    const runs = Array.from({ length: 10 }, (_, i) =>
      store
        .transaction(async (tx) => {
          await tx.revokedAccessTokens.add(`jti-${i}`, FAR);
          // Inside the group: the earlier units' writes are not on disk yet, and their callers not answered.
          if (i > 0 && committed(`jti-${i - 1}`)) seenUncommitted.push(`jti-${i - 1}`);
          expect(answered).toEqual([]);
          return i;
        })
        .then((value) => {
          answered.push(value);
          // Answered only once the whole group is on disk.
          for (let j = 0; j < 10; j++) expect(committed(`jti-${j}`)).toBe(true);
          return value;
        }),
    );
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seenUncommitted).toEqual([]);
    expect(db.inTransaction).toBe(false);
  });

  it('a unit that throws is rolled back alone and rejects only its own caller; its neighbours commit', async () => {
    const runs = Array.from({ length: 6 }, (_, i) =>
      settle(
        store.transaction(async (tx) => {
          await tx.revokedAccessTokens.add(`jti-${i}`, FAR);
          if (i === 2) throw new Error('unit 2 refuses');
          // A real constraint failure: a refresh token for a grant that does not exist.
          if (i === 4) await tx.refreshTokens.insert('no-such-grant', 60);
          return i;
        }),
      ),
    );
    const results = await Promise.all(runs);
    expect(results.map((r) => r.ok)).toEqual([true, true, false, true, false, true]);
    expect(results[2]).toMatchObject({ ok: false, error: { message: 'unit 2 refuses' } });
    expect(results[4]).toMatchObject({ ok: false, error: { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' } });
    expect([0, 1, 2, 3, 4, 5].map((i) => committed(`jti-${i}`))).toEqual([true, true, false, true, false, true]);
    expect(observer.prepare('SELECT count(*) AS n FROM refresh_tokens').get()).toEqual({ n: 0 });
  });

  it('when the shared COMMIT fails, every unit of the group rejects and nothing is on disk', async () => {
    const runs = Array.from({ length: 8 }, (_, i) =>
      settle(
        store.transaction(async (tx) => {
          await tx.revokedAccessTokens.add(`jti-${i}`, FAR);
          if (i === 5) {
            // Checked at COMMIT, not at the statement: the unit itself succeeds, the COMMIT fails.
            db.pragma('defer_foreign_keys = ON');
            await tx.refreshTokens.insert('no-such-grant', 60);
          }
          return i;
        }),
      ),
    );
    const results = await Promise.all(runs);
    expect(results.every((r) => !r.ok)).toBe(true);
    for (const r of results) expect(r).toMatchObject({ ok: false, error: { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' } });
    expect(observer.prepare('SELECT count(*) AS n FROM revoked_access_tokens').get()).toEqual({ n: 0 });
    expect(db.inTransaction).toBe(false);
    // The store goes on: the next transaction commits.
    await store.transaction((tx) => tx.revokedAccessTokens.add('after', FAR));
    expect(committed('after')).toBe(true);
  });

  it(`more than MAX_GROUP (${MAX_GROUP}) queued transactions all commit, and store.repos calls queued among them see them`, async () => {
    const count = MAX_GROUP * 2 + 5;
    const runs = Array.from({ length: count }, (_, i) => store.transaction((tx) => tx.revokedAccessTokens.add(`jti-${i}`, FAR).then(() => i)));
    const read = store.repos.revokedAccessTokens.isRevoked('jti-0');
    expect(await Promise.all(runs)).toHaveLength(count);
    expect(await read).toBe(true);
    expect(observer.prepare('SELECT count(*) AS n FROM revoked_access_tokens').get()).toEqual({ n: count });
  });

  it('a tx used after its own unit settled is refused, even while the group is still open', async () => {
    let leaked: Parameters<Parameters<Store['transaction']>[0]>[0] | undefined;
    const first = store.transaction(async (tx) => {
      leaked = tx;
    });
    const second = store.transaction(async () => {
      await expect(leaked!.revokedAccessTokens.add('late', FAR)).rejects.toThrow(/after its transaction ended/);
    });
    await Promise.all([first, second]);
    expect(committed('late')).toBe(false);
  });
});

describe('temporary storage (sqlite-store.ts rule 5)', () => {
  const tempStore = () => db.pragma('temp_store', { simple: true });
  const MEMORY = 2;
  const FILE = 1;

  it("keeps the savepoints' sub-journals in memory; a purge runs its transaction with temporary files, then gives memory back", async () => {
    expect(tempStore()).toBe(MEMORY);
    const seen: unknown[] = [];
    const original = db.transaction.bind(db);
    db.transaction = ((fn: Parameters<Db['transaction']>[0]) => {
      seen.push(tempStore());
      return original(fn);
    }) as Db['transaction'];
    try {
      await store.repos.purge.expired({ clientIdleSeconds: 3600 });
    } finally {
      db.transaction = original;
    }
    expect(seen).toEqual([FILE]);
    expect(tempStore()).toBe(MEMORY);
  });

  it('a unit rolled back to its savepoint after changing hundreds of pages (its sub-journal far past the 64 KiB spill size) leaves its neighbours whole', async () => {
    const rows = 3000;
    const fill = (prefix: string) => async (tx: Parameters<Parameters<Store['transaction']>[0]>[0]) => {
      for (let i = 0; i < rows; i++) await tx.revokedAccessTokens.add(`${prefix}-${i}-${'x'.repeat(60)}`, FAR);
    };
    const outcomes = await Promise.all([
      settle(store.transaction(fill('a'))),
      settle(
        store.transaction(async (tx) => {
          await fill('b')(tx);
          throw new Error('unit b refused');
        }),
      ),
      settle(store.transaction(fill('c'))),
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    const count = (prefix: string) => (observer.prepare("SELECT count(*) AS n FROM revoked_access_tokens WHERE jti LIKE ? || '-%'").get(prefix) as { n: number }).n;
    expect([count('a'), count('b'), count('c')]).toEqual([rows, 0, rows]);
  });
});
