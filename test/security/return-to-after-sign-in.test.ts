// Issue 9 finding 10: after sign-in, `return_to` may go only to the apex or to a wiki the signed-in
// person owns. Another person's wiki and look-alike hosts fall back to the account page.
// Played with the real sign-in at the local PDS.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { browser, location, signIn, signUpNew } from '../support/browser-flow.ts';
import { createPdsAccount, type PdsAccount } from '../support/pds.ts';

let app: TestApp;
let alice: PdsAccount;
let bob: PdsAccount;
const wikiUrl = (slug: string, path = '/page') => `http://${slug}.localhost:${app.port}${path}`;
const slugs = new Map<string, string>();
const slugOf = (account: PdsAccount) => slugs.get(account.did)!;

beforeAll(async () => {
  app = await startTestApp({ RATE_LIMIT_LOGIN_PER_MINUTE: '100000' });
  alice = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'alice' });
  bob = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'bob' });
  await signUpNew(app, browser(app), alice);
  await signUpNew(app, browser(app), bob);
  for (const account of [alice, bob]) slugs.set(account.did, (await app.ctx.store.repos.users.findByDid(account.did))!.username);
});
afterAll(async () => {
  await app?.close();
});

describe('return_to after sign-in', () => {
  it("goes to the person's own wiki (control)", async () => {
    const own = wikiUrl(slugOf(alice));
    expect(location((await signIn(app, browser(app), alice, { returnTo: own })).handoff)).toBe(own);
  });

  it("refuses another person's wiki: the account page instead", async () => {
    const { handoff } = await signIn(app, browser(app), alice, { returnTo: wikiUrl(slugOf(bob)) });
    expect(location(handoff)).toBe('/account');
  });

  it('refuses a wiki host that does not exist, and look-alike hosts', async () => {
    for (const target of [
      wikiUrl('nosuchwiki'),
      `http://${slugOf(alice)}.localhost.evil.example:${app.port}/page`,
      `http://localhost.evil.example:${app.port}/`,
      `http://evil-localhost:${app.port}/`,
    ]) {
      const { handoff } = await signIn(app, browser(app), alice, { returnTo: target });
      expect(location(handoff), target).toBe('/account');
    }
  });

  it("an already signed-in person visiting /auth/login is not sent to another person's wiki either", async () => {
    const b = browser(app);
    await signIn(app, b, alice);
    const res = await b.get(`/auth/login?return_to=${encodeURIComponent(wikiUrl(slugOf(bob)))}`);
    expect(res.status).toBe(303);
    expect(location(res)).toBe('/account');
    const own = await b.get(`/auth/login?return_to=${encodeURIComponent(wikiUrl(slugOf(alice)))}`);
    expect(location(own)).toBe(wikiUrl(slugOf(alice)));
  });
});
