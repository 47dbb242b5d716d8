// grants.lookupBearer (src/oauth/grants/grants.repo.ts): the bearer check's one statement reads
// every table by its primary key, and each refusal the check relies on is told apart on the sync
// repository the app uses (the async stores: test/storage/contract.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/db/migrate.ts';
import { nowSeconds, openDatabase, type Db } from '../../../src/db/open.ts';
import { BEARER_LOOKUP_SQL, createGrantsRepo, type GrantsRepo } from '../../../src/oauth/grants/grants.repo.ts';
import { createSqliteStore } from '../../../src/storage/sqlite/sqlite-store.ts';
import { createRevokedAccessTokensRepo } from '../../../src/oauth/tokens/revoked-access-tokens.repo.ts';
import { seedClientWithId, seedUser } from '../../support/seed.ts';

let dir: string;
let db: Db;
let grants: GrantsRepo;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookup-bearer-'));
  db = openDatabase(path.join(dir, 'db.sqlite'));
  migrate(db);
  grants = createGrantsRepo(db);
  const store = createSqliteStore(db, { closeDatabase: false });
  await seedUser(store, 'alice', 'did:plc:alice');
  await seedUser(store, 'bob', 'did:plc:bob');
  await seedClientWithId({ config: { databaseFile: path.join(dir, 'db.sqlite'), databaseUrl: undefined } }, 'client-1');
  grants.insert({ id: 'g-alice', clientId: 'client-1', userDid: 'did:plc:alice', wikiSlug: 'alice', resource: 'https://alice.wiki.test/mcp', scope: 'wiki:read', expiresAt: nowSeconds() + 600 });
});

afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('grants.lookupBearer', () => {
  it('reads each table by its primary key (no scan)', () => {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${BEARER_LOOKUP_SQL}`).all('j', 'g', 0, 'alice') as { detail: string }[]).map((r) => r.detail);
    expect(plan.some((d) => /SCAN/.test(d))).toBe(false);
    expect(plan).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/SEARCH w USING (COVERING )?INDEX sqlite_autoindex_wikis_1 \(slug=\?\)/),
        expect.stringMatching(/SEARCH g USING INDEX sqlite_autoindex_oauth_grants_1 \(id=\?\)/),
        expect.stringMatching(/SEARCH u USING INDEX sqlite_autoindex_users_1 \(did=\?\)/),
        expect.stringMatching(/SEARCH r USING (COVERING )?INDEX sqlite_autoindex_revoked_access_tokens_1 \(jti=\?\)/),
      ]),
    );
  });

  it('answers the live grant with its handle, in any case of the slug', () => {
    expect(grants.lookupBearer('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', wikiSlug: 'alice', jtiRevoked: false, grant: { id: 'g-alice', handle: 'alice.test', resource: 'https://alice.wiki.test/mcp', scope: 'wiki:read' } });
    expect(grants.lookupBearer('Alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', wikiSlug: 'alice', grant: { id: 'g-alice' } });
  });

  it('refuses: unknown wiki, deleted wiki, another wiki, unknown, expired and revoked grants, a revoked jti', () => {
    expect(grants.lookupBearer('nowiki', 'g-alice', 'j1')).toEqual({ wiki: 'missing' });
    expect(grants.lookupBearer('bob', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', wikiSlug: 'bob', grant: undefined });
    expect(grants.lookupBearer('alice', 'g-none', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });

    createRevokedAccessTokensRepo(db).add('j-revoked', nowSeconds() + 60);
    expect(grants.lookupBearer('alice', 'g-alice', 'j-revoked')).toMatchObject({ wiki: 'found', jtiRevoked: true, grant: { id: 'g-alice' } });

    db.prepare('UPDATE oauth_grants SET expires_at = ? WHERE id = ?').run(nowSeconds(), 'g-alice');
    expect(grants.lookupBearer('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });
    db.prepare('UPDATE oauth_grants SET expires_at = ? WHERE id = ?').run(nowSeconds() + 600, 'g-alice');

    expect(grants.revoke('g-alice')).toBe(true);
    expect(grants.lookupBearer('alice', 'g-alice', 'j1')).toMatchObject({ wiki: 'found', grant: undefined });

    grants.insert({ id: 'g-bob', clientId: 'client-1', userDid: 'did:plc:bob', wikiSlug: 'bob', resource: 'https://bob.wiki.test/mcp', scope: 'wiki:read', expiresAt: nowSeconds() + 600 });
    expect(grants.lookupBearer('bob', 'g-bob', 'j1')).toMatchObject({ wiki: 'found', grant: { id: 'g-bob' } });
    db.prepare('DELETE FROM wikis WHERE slug = ?').run('bob');
    expect(grants.lookupBearer('bob', 'g-bob', 'j1')).toEqual({ wiki: 'missing' });
  });
});
