// "Create a wiki" obeys the global daily cap on new wikis (NEW_WIKIS_PER_DAY, src/wikis/new-wiki-cap.ts):
// past it nothing is created and the person gets the 503 page with Retry-After. And the account page's
// CSP allows exactly one script: the copy-button file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldValue, pageText } from '../support/browser-flow.ts';
import type { TestApp } from '../support/app.ts';
import { startConformanceApp } from '../conformance/support.ts';
import { seedPerson } from '../support/seed.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startConformanceApp({ NEW_WIKIS_PER_DAY: '2' });
});
afterAll(async () => {
  await app?.close();
});

describe('create a wiki past NEW_WIKIS_PER_DAY', () => {
  it('creates nothing and answers 503 with Retry-After', async () => {
    const alice = await seedPerson(app, 'capalice');
    await seedPerson(app, 'capbob'); // two wikis today: the cap is reached
    const page = await alice.browser.get('/account');
    const res = await alice.browser.post('/account/wikis', { _csrf: fieldValue(page.body, '_csrf') ?? '', slug: 'capalice-two' });
    expect(res.status).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(pageText(res.body)).toContain('paused');
    expect((await app.ctx.store.repos.wikis.findBySlug('capalice-two'))).toBeUndefined();
  });
});

describe('the CSP of the pages', () => {
  it('allows one script, the copy-button file, and nothing else', async () => {
    const alice = await seedPerson(app, 'cspcarol');
    const page = await alice.browser.get('/account');
    const csp = String(page.headers['content-security-policy']);
    const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src'));
    expect(scriptSrc).toBe(`script-src ${app.url}/static/copy.js`);
    expect(csp).toContain("default-src 'none'");
    expect(page.body).toContain('<script src="/static/copy.js" defer></script>');
    // No inline script anywhere on the page.
    expect(page.body.match(/<script/g)).toHaveLength(1);
  });
});

describe('every account form needs its CSRF token', () => {
  it.each(['/account/wikis', '/account/wikis/delete', '/account/sessions/revoke', '/account/sessions/revoke-others', '/account/delete'])(
    'POST %s without the token (or cross-site) is refused with 403 and changes nothing',
    async (action) => {
      const person = await seedPerson(app, `csrf${Math.random().toString(36).slice(2, 8)}`);
      const sessionsBefore = (await app.ctx.store.repos.sessions.listLive(person.did)).length;
      const fields = { slug: person.username, confirm: person.username, session: 'x' };
      expect((await person.browser.post(action, fields)).status).toBe(403);
      const page = await person.browser.get('/account');
      const token = fieldValue(page.body, '_csrf') ?? '';
      expect((await person.browser.post(action, { _csrf: token, ...fields }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      expect((await app.ctx.store.repos.users.findByDid(person.did))).toBeDefined();
      expect((await app.ctx.store.repos.wikis.findBySlug(person.username))).toBeDefined();
      expect((await app.ctx.store.repos.sessions.listLive(person.did))).toHaveLength(sessionsBefore);
    },
  );
});
