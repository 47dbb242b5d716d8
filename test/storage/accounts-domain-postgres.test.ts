// The accounts domain on PostgreSQL (issue 12 item 2): signUp and deleteAccount themselves (not a
// copy of their unit of work), given a context whose `store` is a PostgreSQL store on a real server
// (test/support/postgres.ts). Two Store instances (two pools) stand for two app instances; the rest
// of the context (config, audit log, log) is the test app's. What must hold across instances:
//  - signup's name race: one user and one wiki for a contested name, the other request told
//    'taken', no orphan row; and NEW_WIKIS_PER_DAY not exceeded by concurrent signups (the
//    transaction takes wikis.lockCreation() first);
//  - delete-account leaves no row naming the DID but the operator's records, in one transaction,
//    and a concurrent second deletion finds nothing to do;
//  - sign-in tickets (signup, hand-off) are used once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.ts';
import { deleteAccount } from '../../src/accounts/delete-account.ts';
import { signUp, type SignupResult } from '../../src/accounts/signup.ts';
import { nowSeconds } from '../../src/db/open.ts';
import type { ClientMetadata } from '../../src/oauth/clients/client.ts';
import type { Store } from '../../src/storage/store.ts';
import { SignupsPaused } from '../../src/wikis/new-wiki-cap.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { twoPostgresStores } from '../support/postgres-stores.ts';

let server: TestPostgres;
let app: TestApp;
const opened: { close(): Promise<void> }[] = [];

/** A fresh database, migrated, with two Store instances on it and an admin pool for assertions. */
async function twoInstances() {
  const stores = await twoPostgresStores(server);
  opened.push(stores);
  return stores;
}

/** The test app's context with `store` swapped (and the config adjusted). */
function contextOn(store: Store, config: Partial<AppContext['config']> = {}): AppContext {
  return { ...app.ctx, store, config: { ...app.ctx.config, ...config } };
}

beforeAll(async () => {
  server = await startPostgres();
  app = await startTestApp({}, { listen: false });
}, 60_000);

afterAll(async () => {
  for (const o of opened) await o.close();
  await app?.close();
  await server?.stop();
});

const ticket = (handle: string) => ({ handle, displayName: null, returnTo: undefined });

describe('signUp on PostgreSQL', () => {
  it('two concurrent signups for one username on two instances: one user and one wiki, the other is told it is taken, no orphan rows', async () => {
    const { a, b, count } = await twoInstances();
    const [ctxA, ctxB] = [contextOn(a), contextOn(b)];
    const names = Array.from({ length: 10 }, (_, i) => `race${i}`);
    const rounds = await Promise.all(
      names.map(async (name) => {
        const dids = [`did:plc:${name}a`, `did:plc:${name}b`];
        const results = await Promise.all([signUp(ctxA, dids[0]!, ticket(`${name}a.test`), name), signUp(ctxB, dids[1]!, ticket(`${name}b.test`), name)]);
        return { name, dids, results };
      }),
    );
    for (const { name, dids, results } of rounds) {
      const winners = results.filter((r): r is Extract<SignupResult, { ok: true }> => r.ok);
      expect(winners, name).toHaveLength(1);
      const loser = results.find((r) => !r.ok);
      expect(loser).toEqual({ ok: false, conflict: true, problem: `"${name}" is already taken. Please choose another name.` });
      const winnerDid = winners[0]!.user.did;
      const loserDid = dids.find((d) => d !== winnerDid)!;
      expect(await count('users', 'username = $1', name)).toBe(1);
      expect(await count('wikis', 'slug = $1 AND owner_did = $2', name, winnerDid)).toBe(1);
      // The loser left nothing behind: no user row, no wiki.
      expect(await count('users', 'did = $1', loserDid)).toBe(0);
      expect(await count('wikis', 'owner_did = $1', loserDid)).toBe(0);
    }
    expect(await count('users', 'true')).toBe(names.length);
    expect(await count('wikis', 'true')).toBe(names.length);
  }, 60_000);

  it('NEW_WIKIS_PER_DAY holds across instances: 8 concurrent signups under a cap of 3 create exactly 3 users and wikis', async () => {
    const { a, b, count } = await twoInstances();
    const cap = 3;
    const [ctxA, ctxB] = [contextOn(a, { newWikisPerDay: cap }), contextOn(b, { newWikisPerDay: cap })];
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => signUp(i % 2 === 0 ? ctxA : ctxB, `did:plc:capped${i}`, ticket(`capped${i}.test`), `capped${i}`)),
    );
    const created = results.filter((r) => r.status === 'fulfilled' && r.value.ok);
    const paused = results.filter((r) => r.status === 'rejected');
    expect(created).toHaveLength(cap);
    expect(paused).toHaveLength(8 - cap);
    for (const r of paused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SignupsPaused);
    expect(await count('wikis', 'true')).toBe(cap);
    expect(await count('users', 'true')).toBe(cap);
  }, 60_000);

  it('a name reserved for another DID is refused on the other instance; the DID it is held for takes it and the reservation goes', async () => {
    const { a, b, count } = await twoInstances();
    await a.repos.reservedNames.reserve('heldname', 30, 'account_deleted', 'did:plc:owner');
    expect(await signUp(contextOn(b), 'did:plc:stranger', ticket('stranger.test'), 'heldname')).toMatchObject({ ok: false, conflict: true });
    expect(await count('users', 'did = $1', 'did:plc:stranger')).toBe(0);
    expect(await signUp(contextOn(b), 'did:plc:owner', ticket('owner.test'), 'heldname')).toMatchObject({ ok: true });
    expect(await count('reserved_names', 'name = $1', 'heldname')).toBe(0);
  });
});

describe('deleteAccount on PostgreSQL', () => {
  const metadata = {
    redirect_uris: ['https://app.example/cb'],
    client_name: 'Delete-account client',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  } as ClientMetadata;
  // No PDS here: the revocation there fails, and the deletion goes ahead and says so.
  const unreachablePds = { get: async () => ({ revoke: () => Promise.reject(new Error('unreachable')) }), loaded: true } as unknown as AppContext['atproto'];

  /** A person with two wikis, a grant and refresh token, a session, a ticket, an ATProto session, a name held for them and an audit entry. */
  async function seedPerson(store: Store, username: string) {
    const did = `did:plc:${username}`;
    const user = await store.repos.users.insertWithFirstWiki({ did, handle: `${username}.test`, displayName: 'Person', username });
    if (user === 'taken') throw new Error('seed: taken');
    await store.repos.wikis.insertCreatedByPerson(`${username}-notes`, did, nowSeconds());
    const client = await store.repos.clients.insertRegistered(metadata, null);
    const grantId = `grant-${username}`;
    await store.repos.grants.insert({ id: grantId, clientId: client.clientId, userDid: did, wikiSlug: username, resource: `https://${username}.localhost:3000/mcp`, scope: 'wiki:read', expiresAt: nowSeconds() + 3600 });
    await store.repos.refreshTokens.insert(grantId, 3600);
    await store.repos.sessions.insert(`session-${username}`, did, 3600, 'Firefox');
    await store.repos.tickets.issue('signup', did, ticket(`${username}.test`), 600);
    await store.repos.atprotoSessions.set(did, 'sealed-session-value');
    await store.repos.reservedNames.reserve(`${username}-old`, 30, 'wiki_deleted', did);
    await store.repos.audit.insert({ event: 'sign_in', did, actor: 'person' });
    return { did, grantId };
  }

  it('leaves no row naming the DID except the operator records and the username held for it, and records the deletion', async () => {
    const { a, b, admin, count } = await twoInstances();
    const { did } = await seedPerson(a, 'leaving');
    const outcome = await deleteAccount({ ...contextOn(b), atproto: unreachablePds }, did, 'Leaving', '192.0.2.7');
    expect(outcome).toEqual({ kind: 'deleted', username: 'leaving', wikis: ['leaving', 'leaving-notes'], grantsRevoked: 1, sessionsRevoked: 1, pdsRevoked: false });

    // Every column of every table: only the operator's records name the DID.
    const columns = (
      await admin.query<{ table_name: string; column_name: string }>(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')",
      )
    ).rows;
    expect(columns.length).toBeGreaterThan(30);
    const naming: string[] = [];
    for (const { table_name: table, column_name: column } of columns) {
      // COLLATE "C": LIKE and strpos refuse the nondeterministic `nocase` collation of the name columns.
      const n = await count(`"${table}"`, `strpos(CAST("${column}" AS TEXT) COLLATE "C", $1) > 0`, did);
      if (n > 0) naming.push(`${table}.${column}`);
    }
    expect(naming.sort()).toEqual(['audit_log.did', 'deleted_users.did', 'deleted_wikis.owner_did', 'reserved_names.held_for_did']);
    // The name held for the DID is its username only; the other reservation is now held for nobody.
    expect((await admin.query('SELECT name, reason FROM reserved_names WHERE held_for_did = $1', [did])).rows).toEqual([{ name: 'leaving', reason: 'account_deleted' }]);
    expect((await admin.query('SELECT held_for_did FROM reserved_names WHERE name = $1', ['leaving-old'])).rows).toEqual([{ held_for_did: null }]);
    expect((await admin.query('SELECT name FROM reserved_names WHERE name = $1', ['leaving-notes'])).rows).toHaveLength(1);
    // The operator's records.
    expect((await admin.query('SELECT username, wikis, grants_revoked, sessions_revoked, pds_revoked FROM deleted_users WHERE did = $1', [did])).rows).toEqual([
      { username: 'leaving', wikis: 'leaving,leaving-notes', grants_revoked: 1, sessions_revoked: 1, pds_revoked: 0 },
    ]);
    expect(await count('deleted_wikis', "owner_did = $1 AND reason = 'account_deleted'", did)).toBe(2);
    expect((await admin.query("SELECT address, detail FROM audit_log WHERE did = $1 AND event = 'account_deleted'", [did])).rows).toEqual([
      { address: '192.0.2.7', detail: expect.stringContaining('"grants_revoked":1') },
    ]);
  }, 60_000);

  it('two concurrent deletions on two instances: one deletes, the other finds the account gone; one record', async () => {
    const { a, b, count } = await twoInstances();
    const { did } = await seedPerson(a, 'twice');
    const outcomes = await Promise.all([
      deleteAccount({ ...contextOn(a), atproto: unreachablePds }, did, 'twice'),
      deleteAccount({ ...contextOn(b), atproto: unreachablePds }, did, 'twice'),
    ]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['deleted', 'refused']);
    expect(outcomes.find((o) => o.kind === 'refused')).toEqual({ kind: 'refused', problem: 'This account no longer exists.' });
    expect(await count('deleted_users', 'did = $1', did)).toBe(1);
    expect(await count('deleted_wikis', 'owner_did = $1', did)).toBe(2);
    expect(await count('audit_log', "did = $1 AND event = 'account_deleted'", did)).toBe(1);
    expect(await count('users', 'did = $1', did)).toBe(0);
  }, 60_000);
});

describe('sign-in tickets on PostgreSQL', () => {
  it('each ticket is used once across two instances (20 tickets, 10 concurrent consumers each)', async () => {
    const { a, b } = await twoInstances();
    const values = await Promise.all(Array.from({ length: 20 }, (_, i) => a.repos.tickets.issue('handoff', `did:plc:ticket${i}`, { n: i }, 120)));
    const winners = await Promise.all(
      values.map(async (value) => {
        const got = await Promise.all(Array.from({ length: 10 }, (_, j) => (j % 2 === 0 ? a : b).repos.tickets.consume<{ n: number }>('handoff', value)));
        return got.filter((t) => t !== undefined);
      }),
    );
    expect(winners.map((w) => w.length)).toEqual(values.map(() => 1));
    expect(winners.map((w) => w[0]!.payload.n)).toEqual(values.map((_, i) => i));
    // And it is gone for everyone afterwards, a peek included.
    expect(await b.repos.tickets.peek('handoff', values[0]!)).toBeUndefined();
  }, 60_000);
});
