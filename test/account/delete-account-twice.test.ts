// "Delete my account" sent twice at once (a double click, two tabs): the PDS revocation runs before
// the transaction, so both requests pass the confirmation check before either deletes. The second
// must find the account gone inside its transaction (delete-account.ts reads the user again, locked
// on PostgreSQL: test/storage/accounts-domain-postgres.test.ts), not record a second deletion with
// no wikis and a second audit event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteAccount } from '../../src/accounts/delete-account.ts';
import type { AppContext } from '../../src/context.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { seedUser } from '../support/seed.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({}, { listen: false });
});
afterAll(async () => {
  await app?.close();
});

describe('two concurrent deletions of one account', () => {
  it('one deletes; the other is told the account no longer exists; one record, one audit event', async () => {
    const user = await seedUser(app.ctx, 'twiceover');
    // The PDS answers after a moment, as over the network.
    const pds = { get: async () => ({ revoke: () => new Promise((resolve) => setTimeout(resolve, 20)) }), loaded: true } as unknown as AppContext['atproto'];
    const outcomes = await Promise.all([deleteAccount({ ...app.ctx, atproto: pds }, user.did, 'twiceover'), deleteAccount({ ...app.ctx, atproto: pds }, user.did, 'twiceover')]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['deleted', 'refused']);
    expect(outcomes.find((o) => o.kind === 'deleted')).toMatchObject({ wikis: ['twiceover'], pdsRevoked: true });
    expect(app.ctx.sqlite!.db.prepare('SELECT count(*) AS n FROM deleted_users WHERE did = ?').get(user.did)).toEqual({ n: 1 });
    expect((await app.ctx.store.repos.audit.list({ did: user.did })).filter((e) => e.event === 'account_deleted')).toHaveLength(1);
  });
});
