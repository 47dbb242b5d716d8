// The counts behind the registration caps (migrations/005-sealed-stores-and-client-counts.sql) are
// maintained by triggers; they must equal a real count after every kind of write, including the
// purge's deletions and an upgrade of a database that already holds clients.
import { createClientsRepo } from '../../src/oauth/clients/clients.repo.ts';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase } from '../../src/db/open.ts';
import { purgeExpired } from '../../src/db/purge.ts';
import type { ClientMetadata } from '../../src/oauth/clients/client.ts';
import { startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;
let ctx: AppContext;
let dir: string;
const metadata = { redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'none' } as unknown as ClientMetadata;

beforeEach(async () => {
  app = await startTestApp({}, { listen: false });
  ({ ctx, dataDir: dir } = app);
});
afterEach(() => app.close());
const clients = () => createClientsRepo(ctx.sqlite!.db);

function realCounts(db = ctx.sqlite!.db) {
  const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  return {
    unused: n("SELECT count(*) AS n FROM oauth_clients WHERE kind = 'registered' AND first_token_at IS NULL"),
    documents: n("SELECT count(*) AS n FROM oauth_clients WHERE kind = 'metadata_document'"),
  };
}
const maintained = () => ({ unused: clients().countUnusedRegistered(), documents: clients().countDocuments() });

describe('maintained client counts', () => {
  it('follow registration, first token, document insert and refresh, deletion and the purge', () => {
    const a = clients().insertRegistered(metadata, null);
    clients().insertRegistered(metadata, null);
    const now = nowSeconds();
    clients().upsertDocument('https://d1.example/c.json', metadata, now, now + 60);
    clients().upsertDocument('https://d1.example/c.json', metadata, now, now + 120);
    clients().upsertDocument('https://d2.example/c.json', metadata, now, now + 60);
    expect(maintained()).toEqual({ unused: 2, documents: 2 });
    clients().markTokenIssued(a.clientId);
    clients().markTokenIssued(a.clientId);
    expect(maintained()).toEqual({ unused: 1, documents: 2 });
    expect(maintained()).toEqual(realCounts());
    ctx.sqlite!.db.prepare('UPDATE oauth_clients SET created_at = created_at - 7200').run();
    purgeExpired(ctx.sqlite!.db, { clientIdleSeconds: 7 * 86400, unusedClientSeconds: 3600 });
    expect(maintained()).toEqual({ unused: 0, documents: 0 });
    expect(maintained()).toEqual(realCounts());
    expect(clients().find(a.clientId)).toBeDefined();
  });

  it('are not rewritten when a write leaves what a client counts as unchanged (every code exchange marks its client used)', () => {
    const a = clients().insertRegistered(metadata, null);
    const now = nowSeconds();
    clients().upsertDocument('https://d1.example/c.json', metadata, now, now + 60);
    clients().markTokenIssued(a.clientId); // first token: the registration leaves 'unused_registered'
    const db = ctx.sqlite!.db;
    const total = () => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    // The document is the case the old trigger rewrote (n - 1, then n + 1 of its count: 3 changes); a
    // registration already used made 1 change either way and is here for the counts' sake.
    for (const clientId of [a.clientId, 'https://d1.example/c.json']) {
      // A minute-old last use, so that the row itself is written (the resolution test is below).
      db.prepare('UPDATE oauth_clients SET last_used_at = coalesce(last_used_at, 0) - 60 WHERE client_id = ?').run(clientId);
      const before = total();
      clients().markTokenIssued(clientId);
      // The client's own row only: the trigger's two UPDATEs of oauth_client_counts would count 1 each (migration 017).
      expect(total() - before).toBe(1);
    }
    expect(maintained()).toEqual({ unused: 0, documents: 1 });
    expect(maintained()).toEqual(realCounts());
  });

  it("record a client's last use to the minute: its first token always, then only a minute-old time is rewritten", () => {
    const a = clients().insertRegistered(metadata, null);
    const db = ctx.sqlite!.db;
    const total = () => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    const times = () => db.prepare('SELECT first_token_at AS first, last_used_at AS last FROM oauth_clients WHERE client_id = ?').get(a.clientId) as { first: number; last: number };
    clients().markTokenIssued(a.clientId);
    const first = times();
    expect(first.first).toBeGreaterThan(0);
    expect(first.last).toBe(first.first);
    // Within the minute: no write at all (a shared client ID metadata document's row is not rewritten by every exchange).
    const before = total();
    clients().markTokenIssued(a.clientId);
    expect(total()).toBe(before);
    // A minute old: the last use moves, the first token's time does not.
    db.prepare('UPDATE oauth_clients SET first_token_at = first_token_at - 120, last_used_at = last_used_at - 60 WHERE client_id = ?').run(a.clientId);
    clients().markTokenIssued(a.clientId);
    expect(times()).toEqual({ first: first.first - 120, last: expect.any(Number) });
    expect(times().last).toBeGreaterThanOrEqual(first.last);
  });

  it('start from the real counts when a database that holds clients is upgraded', () => {
    const file = path.join(dir, 'old.sqlite');
    const db = openDatabase(file);
    try {
      migrate(db, readMigrations().filter((m) => m.version < 5));
      const insert = db.prepare("INSERT INTO oauth_clients (client_id, kind, metadata, created_at, first_token_at) VALUES (?, ?, '{}', 0, ?)");
      insert.run('rc_1', 'registered', null);
      insert.run('rc_2', 'registered', 5);
      insert.run('https://x.example/c.json', 'metadata_document', null);
      migrate(db);
      const row = (name: string) => (db.prepare('SELECT n FROM oauth_client_counts WHERE name = ?').get(name) as { n: number }).n;
      expect({ unused: row('unused_registered'), documents: row('metadata_document') }).toEqual(realCounts(db));
      expect(realCounts(db)).toEqual({ unused: 1, documents: 1 });
    } finally {
      db.close();
    }
  });
});
