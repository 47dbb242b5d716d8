// Issue 14 — takeover of a deleted wiki's address. When a wiki (or a whole account) is deleted, its
// address https://{slug}.PLATFORM_DOMAIN is still in bookmarks, links and the MCP clients people
// connected: a stranger who creates the same slug at once would receive that traffic, and the
// clients' next sign-in would be for the stranger's wiki. The attack: delete, then take the name
// (as a wiki and as a username). Held for DELETED_SLUG_RESERVE_DAYS / DELETED_USERNAME_RESERVE_DAYS
// (src/wikis/reserved-names.ts); the last owner (or the returning person) may take it back; after
// the window, or with 0 days, the name is free.
// Also: a stranger cannot delete someone else's wiki, and a cross-site form post cannot delete an account.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../../src/accounts/signup.ts';
import { deleteAccount } from '../../src/accounts/delete-account.ts';
import { createWikiForUser } from '../../src/wikis/create-wiki.ts';
import { deleteWikiForOwner } from '../../src/wikis/delete-wiki.ts';
import { fieldValue } from '../support/browser-flow.ts';
import type { TestApp } from '../support/app.ts';
import { startConformanceApp } from '../conformance/support.ts';
import { seedPerson } from '../support/seed.ts';

let app: TestApp;
let freeApp: TestApp;

beforeAll(async () => {
  [app, freeApp] = await Promise.all([startConformanceApp(), startConformanceApp({ DELETED_SLUG_RESERVE_DAYS: '0', DELETED_USERNAME_RESERVE_DAYS: '0' })]);
});
afterAll(async () => {
  await Promise.all([app?.close(), freeApp?.close()]);
});

const name = (prefix: string) => `${prefix}${crypto.randomBytes(4).toString('hex')}`;
const newDid = () => `did:plc:${crypto.randomBytes(12).toString('hex')}`;
const ticket = (handle: string) => ({ handle, displayName: null, returnTo: undefined });

describe('a deleted wiki’s slug', () => {
  it('cannot be taken by a stranger, as a wiki or as a username, while reserved; its owner may take it back', async () => {
    const owner = await seedPerson(app, name('own'));
    const stranger = await seedPerson(app, name('str'));
    const slug = name('notes');
    expect(await createWikiForUser(app.ctx, owner.did, slug)).toEqual({ kind: 'created', slug });
    expect((await deleteWikiForOwner(app.ctx, owner.did, slug, slug)).kind).toBe('deleted');

    const asWiki = await createWikiForUser(app.ctx, stranger.did, slug);
    expect(asWiki).toMatchObject({ kind: 'refused', status: 409 });
    const asUsername = await signUp(app.ctx, newDid(), ticket('newcomer.test'), slug);
    expect(asUsername).toMatchObject({ ok: false, conflict: true });
    expect(await app.ctx.store.repos.wikis.findBySlug(slug)).toBeUndefined();

    expect(await createWikiForUser(app.ctx, owner.did, slug)).toEqual({ kind: 'created', slug });
  });

  it('is free at once with DELETED_SLUG_RESERVE_DAYS=0, and free again once the reservation is over', async () => {
    const owner = await seedPerson(freeApp, name('own'));
    const stranger = await seedPerson(freeApp, name('str'));
    const slug = name('free');
    await createWikiForUser(freeApp.ctx, owner.did, slug);
    await deleteWikiForOwner(freeApp.ctx, owner.did, slug, slug);
    expect(await createWikiForUser(freeApp.ctx, stranger.did, slug)).toEqual({ kind: 'created', slug });

    const other = await seedPerson(app, name('own'));
    const expiring = name('exp');
    await createWikiForUser(app.ctx, other.did, expiring);
    await deleteWikiForOwner(app.ctx, other.did, expiring, expiring);
    await app.sql().run('UPDATE reserved_names SET reserved_until = 1 WHERE name = ?', expiring);
    expect((await app.ctx.store.repos.purge.expired({ clientIdleSeconds: 1 })).reserved_names).toBeGreaterThanOrEqual(1);
    const stranger2 = await seedPerson(app, name('str'));
    expect(await createWikiForUser(app.ctx, stranger2.did, expiring)).toEqual({ kind: 'created', slug: expiring });
  });

  it('cannot be deleted by anyone but its owner', async () => {
    const owner = await seedPerson(app, name('own'));
    const stranger = await seedPerson(app, name('str'));
    expect(await deleteWikiForOwner(app.ctx, stranger.did, owner.username, owner.username)).toMatchObject({ kind: 'refused', status: 404 });
    const page = await stranger.browser.get('/account');
    const res = await stranger.browser.post('/account/wikis/delete', { _csrf: fieldValue(page.body, '_csrf') ?? '', slug: owner.username, confirm: owner.username });
    expect(res.status).toBe(404);
    expect((await app.ctx.store.repos.wikis.findBySlug(owner.username))?.ownerDid).toBe(owner.did);
  });
});

describe('a deleted account’s username and wikis', () => {
  it('cannot be taken by a stranger while reserved; the same person may come back and take the username', async () => {
    const person = await seedPerson(app, name('gone'));
    const extra = name('extra');
    await createWikiForUser(app.ctx, person.did, extra);
    const outcome = await deleteAccount(app.ctx, person.did, person.username);
    expect(outcome.kind).toBe('deleted');

    expect(await signUp(app.ctx, newDid(), ticket('x.test'), person.username)).toMatchObject({ ok: false, conflict: true });
    const stranger = await seedPerson(app, name('str'));
    expect(await createWikiForUser(app.ctx, stranger.did, person.username)).toMatchObject({ kind: 'refused', status: 409 });
    expect(await createWikiForUser(app.ctx, stranger.did, extra)).toMatchObject({ kind: 'refused', status: 409 });

    expect(await signUp(app.ctx, person.did, ticket(person.handle), person.username)).toMatchObject({ ok: true });
  });

  it('a cross-site form post cannot delete an account (CSRF)', async () => {
    const person = await seedPerson(app, name('csrf'));
    const page = await person.browser.get('/account');
    const token = fieldValue(page.body, '_csrf') ?? '';
    const crossSite = await person.browser.post('/account/delete', { _csrf: token, confirm: person.username }, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    const noToken = await person.browser.post('/account/delete', { confirm: person.username });
    expect(noToken.status).toBe(403);
    expect(await app.ctx.store.repos.users.findByDid(person.did)).toBeDefined();
  });
});
