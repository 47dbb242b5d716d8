// The clients table: registrations persist, secrets are stored as hashes only, documents are
// cached and refreshed in place, and idle clients are purged.
import { createClientsRepo } from '../../../src/oauth/clients/clients.repo.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../../src/db/open.ts';
import { purgeExpired } from '../../../src/db/purge.ts';
import { sha256Hex } from '../../../src/lib/secrets.ts';
import type { ClientMetadata } from '../../../src/oauth/clients/client.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';

const metadata: ClientMetadata = {
  redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  client_name: 'Claude',
};

let t: TestApp;
beforeEach(async () => {
  t = await startTestApp({}, { listen: false });
});
afterEach(() => t.close());
const clients = () => createClientsRepo(t.ctx.sqlite!.db);

const setCreatedAt = (clientId: string, createdAt: number) =>
  t.ctx.sqlite!.db.prepare('UPDATE oauth_clients SET created_at = ? WHERE client_id = ?').run(createdAt, clientId);

describe('registered clients', () => {
  it('inserts with a random rc_ client_id and finds it again; unknown ids are undefined', () => {
    const a = clients().insertRegistered(metadata, sha256Hex('secret'));
    const b = clients().insertRegistered(metadata, null);
    expect(a.clientId).toMatch(/^rc_[A-Za-z0-9_-]{20,}$/);
    expect(a.clientId).not.toBe(b.clientId);
    const found = clients().find(a.clientId);
    expect(found).toMatchObject({ clientId: a.clientId, kind: 'registered', secretHash: sha256Hex('secret'), metadata, firstTokenAt: null });
    expect(clients().find(b.clientId)?.secretHash).toBeNull();
    expect(clients().find('rc_nope')).toBeUndefined();
  });

  it('survives closing and reopening the database', async () => {
    const a = clients().insertRegistered(metadata, sha256Hex('secret'));
    const ctx = await t.reopen();
    expect(createClientsRepo(ctx.sqlite!.db).find(a.clientId)?.metadata).toEqual(metadata);
  });

  it('markTokenIssued sets first_token_at once, and last_used_at when the stored one is a minute old', () => {
    const a = clients().insertRegistered(metadata, null);
    clients().markTokenIssued(a.clientId);
    const first = clients().find(a.clientId);
    expect(first?.firstTokenAt).toBeGreaterThan(0);
    t.ctx.sqlite!.db.prepare('UPDATE oauth_clients SET first_token_at = 100, last_used_at = 100 WHERE client_id = ?').run(a.clientId);
    const before = nowSeconds();
    clients().markTokenIssued(a.clientId);
    const again = clients().find(a.clientId);
    expect(again?.firstTokenAt).toBe(100);
    expect(again?.lastUsedAt).toBeGreaterThanOrEqual(before);
  });
});

describe('purging idle clients (purgeExpired)', () => {
  it('deletes clients unused for the idle time with nothing in flight, keeps recently used ones', () => {
    const week = 7 * 24 * 3600;
    const old = nowSeconds() - week - 10;
    const idleOld = clients().insertRegistered(metadata, null);
    const usedOld = clients().insertRegistered(metadata, null);
    const idleNew = clients().insertRegistered(metadata, null);
    const pendingOld = clients().insertRegistered(metadata, null);
    for (const c of [idleOld, usedOld, pendingOld]) setCreatedAt(c.clientId, old);
    clients().markTokenIssued(usedOld.clientId);
    const documentId = 'https://app.example/client.json';
    clients().upsertDocument(documentId, { ...metadata, token_endpoint_auth_method: 'none' }, old, old + 60);
    setCreatedAt(documentId, old);
    const insertRequest = t.ctx.sqlite!.db.prepare(
      'INSERT INTO authorization_requests (id_hash, client_id, params, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    );
    insertRequest.run('expired', idleOld.clientId, '{}', old, old + 600);
    insertRequest.run('pending', pendingOld.clientId, '{}', nowSeconds(), nowSeconds() + 600);

    expect(purgeExpired(t.ctx.sqlite!.db, { clientIdleSeconds: week }).oauth_clients).toBe(2);

    expect(clients().find(idleOld.clientId)).toBeUndefined();
    expect(clients().find(documentId)).toBeUndefined();
    expect(clients().find(usedOld.clientId)).toBeDefined();
    expect(clients().find(idleNew.clientId)).toBeDefined();
    // A person is on the consent page for this one right now.
    expect(clients().find(pendingOld.clientId)).toBeDefined();
    expect(purgeExpired(t.ctx.sqlite!.db, { clientIdleSeconds: week }).oauth_clients).toBe(0);
  });
});

describe('metadata documents', () => {
  const url = 'https://claude.ai/oauth/claude-code-client-metadata';
  const doc: ClientMetadata = { ...metadata, token_endpoint_auth_method: 'none', client_name: 'Claude Code' };

  it('upsertDocument inserts, then refreshes in place keeping created_at', () => {
    clients().upsertDocument(url, doc, 1000, 4600);
    expect(clients().find(url)).toMatchObject({ kind: 'metadata_document', secretHash: null, createdAt: 1000, fetchedAt: 1000, staleAt: 4600, metadata: doc });
    clients().upsertDocument(url, { ...doc, client_name: 'Claude Code 2' }, 5000, 8600);
    expect(clients().find(url)).toMatchObject({ createdAt: 1000, fetchedAt: 5000, staleAt: 8600, metadata: { client_name: 'Claude Code 2' } });
  });

  it('never overwrites a registered client that has the same id', () => {
    const reg = clients().insertRegistered(metadata, sha256Hex('s'));
    clients().upsertDocument(reg.clientId, doc, 1000, 4600);
    expect(clients().find(reg.clientId)).toMatchObject({ kind: 'registered', secretHash: sha256Hex('s'), metadata });
  });
});
