// src/storage/sqlite/bearer-lookups.ts: the bearer check's read answered again from memory, on a real
// database file with a second connection standing in for another process (the admin CLI, another
// instance). Each attack is a token whose grant ended after its answer was remembered.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { migrate } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase, type Db } from '../../src/db/open.ts';
import { createGrantsRepo, type BearerLookup, type GrantsRepo } from '../../src/oauth/grants/grants.repo.ts';
import { createRevokedAccessTokensRepo } from '../../src/oauth/tokens/revoked-access-tokens.repo.ts';
import { CHECK_EVERY_MS, MAX_ENTRIES, rememberedBearerLookups, type LookupBearer } from '../../src/storage/sqlite/bearer-lookups.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { seedClientWithId, seedUser } from '../support/seed.ts';

let dir: string;
let file: string;
let db: Db;
let grants: GrantsRepo;
let reads: number;
let lookup: LookupBearer;
let touch: (grantId: string) => void;

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
/** What the admin CLI or another instance does: the revocation committed on a connection of its own. */
function revokeFromAnotherConnection(): void {
  const other = new Database(file);
  try {
    other.prepare('UPDATE oauth_grants SET revoked_at = ? WHERE id = ?').run(nowSeconds(), 'g-alice');
  } finally {
    other.close();
  }
}
const live = (answer: BearerLookup) => answer.wiki === 'found' && answer.grant !== undefined && !answer.jtiRevoked;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bearer-lookups-'));
  file = path.join(dir, 'db.sqlite');
  db = openDatabase(file);
  migrate(db);
  grants = createGrantsRepo(db);
  const store = createSqliteStore(db, { closeDatabase: false });
  await seedUser(store, 'alice', 'did:plc:alice');
  await seedClientWithId({ config: { databaseFile: file, databaseUrl: undefined } }, 'client-1');
  grants.insert({ id: 'g-alice', clientId: 'client-1', userDid: 'did:plc:alice', wikiSlug: 'alice', resource: 'https://alice.wiki.test/mcp', scope: 'wiki:read', expiresAt: nowSeconds() + 600 });
  reads = 0;
  ({ lookupBearer: lookup, touch } = rememberedBearerLookups(
    db,
    (slug, grantId, jti) => {
      reads++;
      return grants.lookupBearer(slug, grantId, jti);
    },
    (id, now) => grants.touch(id, now),
  ));
  await nextTurn();
});

afterEach(() => {
  vi.useRealTimers();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('rememberedBearerLookups', () => {
  it('answers a token again without reading while nothing changed, in this turn and the next', async () => {
    const first = lookup('alice', 'g-alice', 'j1');
    expect(live(first)).toBe(true);
    expect(lookup('alice', 'g-alice', 'j1')).toEqual(first);
    await nextTurn();
    expect(lookup('alice', 'g-alice', 'j1')).toEqual(first);
    expect(reads).toBe(1);
    // Another token, another slug or another grant id for the same jti: read.
    lookup('alice', 'g-alice', 'j2');
    expect(lookup('bob', 'g-alice', 'j1')).toEqual({ wiki: 'missing' });
    expect(lookup('alice', 'g-other', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });
    expect(reads).toBe(4);
  });

  it('rule 1: a revocation on this connection ends the answer for the very next request', () => {
    expect(live(lookup('alice', 'g-alice', 'j1'))).toBe(true);
    expect(grants.revoke('g-alice')).toBe(true);
    expect(lookup('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });
  });

  it('rule 1: a revoked jti, a new handle and a deleted wiki on this connection are seen at once too', () => {
    expect(live(lookup('alice', 'g-alice', 'j1'))).toBe(true);
    createRevokedAccessTokensRepo(db).add('j1', nowSeconds() + 60);
    expect(lookup('alice', 'g-alice', 'j1')).toMatchObject({ jtiRevoked: true });

    expect(live(lookup('alice', 'g-alice', 'j2'))).toBe(true);
    db.prepare('UPDATE users SET handle = ? WHERE did = ?').run('alice.example', 'did:plc:alice');
    expect(lookup('alice', 'g-alice', 'j2')).toMatchObject({ grant: { handle: 'alice.example' } });

    db.prepare('DELETE FROM wikis WHERE slug = ?').run('alice');
    expect(lookup('alice', 'g-alice', 'j2')).toEqual({ wiki: 'missing' });
  });

  it("rule 1: the grant's last-use touch keeps its answers, which carry the new time; any other write still ends them", () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    db.prepare('UPDATE oauth_grants SET last_used_at = ? WHERE id = ?').run(nowSeconds() - 120, 'g-alice');
    expect(live(lookup('alice', 'g-alice', 'j1'))).toBe(true);
    expect(live(lookup('alice', 'g-alice', 'j2'))).toBe(true);
    vi.setSystemTime(Date.now() + 1000);
    touch('g-alice');
    expect(db.prepare('SELECT last_used_at FROM oauth_grants WHERE id = ?').pluck().get('g-alice')).toBe(nowSeconds());
    for (const jti of ['j1', 'j2']) expect(lookup('alice', 'g-alice', jti)).toMatchObject({ grant: { lastUsedAt: nowSeconds() } });
    expect(reads).toBe(2);
    // A touch, then a revocation: the revocation is a write like any other.
    touch('g-alice');
    grants.revoke('g-alice');
    expect(lookup('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });
  });

  it('rule 2: a revocation committed by another connection (another process) is seen from the next turn', async () => {
    expect(live(lookup('alice', 'g-alice', 'j1'))).toBe(true);
    revokeFromAnotherConnection();
    await nextTurn();
    expect(lookup('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });
  });

  it(`rule 2: within one long turn, such a commit is seen once CHECK_EVERY_MS (${CHECK_EVERY_MS} ms) has passed`, () => {
    // One synchronous stretch: no turn ends here (as when the turn's end was queued from the check
    // phase and the loop then waits in its poll for the next request).
    expect(live(lookup('alice', 'g-alice', 'j1'))).toBe(true);
    revokeFromAnotherConnection();
    const until = performance.now() + CHECK_EVERY_MS + 1;
    while (performance.now() < until) {
      // waiting without giving the event loop a turn
    }
    expect(lookup('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });
  });

  it('rule 3: a remembered live grant ends when it expires, with no write at all', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    db.prepare('UPDATE oauth_grants SET expires_at = ? WHERE id = ?').run(nowSeconds() + 2, 'g-alice');
    expect(live(lookup('alice', 'g-alice', 'j1'))).toBe(true);
    vi.setSystemTime(Date.now() + 1000);
    expect(live(lookup('alice', 'g-alice', 'j1'))).toBe(true);
    expect(reads).toBe(1);
    vi.setSystemTime(Date.now() + 1000);
    expect(lookup('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });
  });

  it('rule 4: an answer read inside a transaction that rolls back is not remembered', () => {
    // An expired grant, extended inside a transaction that then fails: the extension never happened.
    db.prepare('UPDATE oauth_grants SET expires_at = ? WHERE id = ?').run(nowSeconds() - 1, 'g-alice');
    const extendThenFail = db.transaction(() => {
      grants.extend('g-alice', nowSeconds() + 600);
      expect(live(lookup('alice', 'g-alice', 'j1'))).toBe(true); // this transaction's own view
      throw new Error('rolled back');
    });
    expect(() => extendThenFail()).toThrow('rolled back');
    // total_changes() counts the rolled-back UPDATE: only rule 4 keeps that answer from being served.
    expect(lookup('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });
  });

  it(`remembers at most ${MAX_ENTRIES} answers`, () => {
    for (let i = 0; i <= MAX_ENTRIES; i++) lookup('alice', 'g-alice', `j${i}`);
    expect(reads).toBe(MAX_ENTRIES + 1);
    // The table was full at the last one: everything before it was forgotten.
    lookup('alice', 'g-alice', 'j0');
    expect(reads).toBe(MAX_ENTRIES + 2);
    lookup('alice', 'g-alice', `j${MAX_ENTRIES}`);
    expect(reads).toBe(MAX_ENTRIES + 2);
  });
});
