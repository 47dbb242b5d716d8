// Issue 9 finding 6: the full-power session cookie was shared with every wiki host.
// Attacks, played with the real sign-in (local PDS) and the real app, COOKIE_DOMAIN set:
//  1. Whatever the apex sets on COOKIE_DOMAIN (what every wiki host, its upstreams and their logs
//     receive), even renamed to the old `platform_token`, opens neither the account page nor a consent.
//  2. JavaScript on a wiki host plants its own cookies on the domain (the browser sends them first):
//     the victim is not swapped into the attacker's session or signup.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { browser, fieldValue, location, signIn, signUpNew, type Browser } from '../support/browser-flow.ts';
import { createPdsAccount, httpRequest, type HttpResponse } from '../support/pds.ts';
import { authorizeParams, authorizeUrl, newPkce, registerClient as registerFlowClient, submitConsent, type RegisteredClient } from '../support/oauth-flow.ts';

let app: TestApp;
const pdsUrl = inject('pdsUrl');

beforeAll(async () => {
  app = await startTestApp({ COOKIE_DOMAIN: 'localhost', RATE_LIMIT_LOGIN_PER_MINUTE: '100000', RATE_LIMIT_REGISTER_PER_MINUTE: '100000' });
});
afterAll(async () => {
  await app?.close();
});

/** The cookies a response set with a Domain attribute: what every wiki host receives from then on. */
function domainCookies(res: HttpResponse): Map<string, string> {
  const jar = new Map<string, string>();
  for (const line of res.headers['set-cookie'] ?? []) {
    const [pair = '', ...attrs] = line.split(';');
    if (!attrs.some((a) => a.trim().toLowerCase().startsWith('domain='))) continue;
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(eq + 1) !== '') jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
  }
  return jar;
}

/** The Cookie header a browser sends when a wiki host planted `planted` on the domain: those come first. */
function withPlanted(planted: Map<string, string>, own: Map<string, string>): string {
  return [...planted, ...own].map(([n, v]) => `${n}=${v}`).join('; ');
}

async function registerClient(): Promise<string> {
  const client = await registerFlowClient(app, { client_name: 'Attacker tool', redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' });
  return client.clientId;
}

/** Drives /authorize → consent → Allow as far as the given browser gets; returns the final response. */
async function tryToApprove(b: Browser, clientId: string, slug: string): Promise<HttpResponse> {
  const client: RegisteredClient = { clientId, clientSecret: undefined, redirectUri: 'http://127.0.0.1:9/cb', authMethod: 'none' };
  const params = authorizeParams(client, { mcpUrl: `http://${slug}.localhost:${app.port}/mcp` }, newPkce(), { state: 'x' });
  let res = await b.get(authorizeUrl(app, params));
  for (let hops = 0; res.status === 303 && location(res).startsWith(OAUTH_PATHS.consent) && hops < 3; hops++) res = await b.get(location(res));
  if (res.status !== 200 || fieldValue(res.body, 'request') === undefined) return res;
  return submitConsent(b, res, 'allow');
}

describe('what the wiki hosts receive carries no authority on the apex', () => {
  it('the domain cookies (also under the old platform_token name) open neither the account page nor a consent', async () => {
    const account = await createPdsAccount(pdsUrl, { handlePrefix: 'victim' });
    const victim = browser(app);
    const signedUp = await signUpNew(app, victim, account);
    const slug = (await app.ctx.store.repos.users.findByDid(account.did))!.username;
    // Control: the victim's own browser is signed in.
    expect((await victim.get('/account')).status).toBe(200);

    const seenByWikis = domainCookies(signedUp);
    expect(seenByWikis.size).toBeGreaterThan(0);
    // A wiki operator replays what it saw, also under the pre-split cookie name.
    const stolen = new Map(seenByWikis);
    for (const value of seenByWikis.values()) stolen.set('platform_token', value);
    const attacker = browser(app, stolen);

    const accountPage = await attacker.get('/account');
    expect(accountPage.status).toBe(303);
    expect(location(accountPage)).toMatch(/^\/auth\/login/);

    const clientId = await registerClient();
    const outcome = await tryToApprove(attacker, clientId, slug);
    expect(outcome.headers.location ?? '').not.toMatch(/[?&]code=/);
    expect(await app.ctx.store.repos.grants.listConnectedApps(account.did)).toEqual([]);
  });
});

describe('cookies planted by a wiki host (cookie tossing)', () => {
  it('do not swap the victim into the attacker\'s session', async () => {
    const attackerAccount = await createPdsAccount(pdsUrl, { handlePrefix: 'evil' });
    const attacker = browser(app);
    await signUpNew(app, attacker, attackerAccount);
    const victimAccount = await createPdsAccount(pdsUrl, { handlePrefix: 'victim' });
    const victim = browser(app);
    await signUpNew(app, victim, victimAccount);

    // The attacker's script on their wiki sets every one of their own cookies with Domain=localhost
    // (a __Host- cookie cannot be set that way: browsers refuse it).
    const planted = new Map([...attacker.jar].filter(([name]) => !name.startsWith('__Host-')));
    const page = await httpRequest(`${app.url}/account`, { headers: { cookie: withPlanted(planted, victim.jar) } });
    expect(page.body).not.toContain(attackerAccount.did);
    expect(page.body).not.toContain(attackerAccount.handle);
    if (page.status === 200) expect(page.body).toContain(victimAccount.did);
    else expect(location(page)).toMatch(/^\/auth\/login/);
  });

  it("do not swap the victim's first sign-in into the attacker's signup ticket", async () => {
    const attackerAccount = await createPdsAccount(pdsUrl, { handlePrefix: 'evil' });
    const attacker = browser(app);
    expect(location((await signIn(app, attacker, attackerAccount)).handoff)).toBe('/auth/signup');
    const victimAccount = await createPdsAccount(pdsUrl, { handlePrefix: 'victim' });
    const victim = browser(app);
    expect(location((await signIn(app, victim, victimAccount)).handoff)).toBe('/auth/signup');

    const planted = new Map([...attacker.jar].filter(([name]) => !name.startsWith('__Host-')));
    const page = await httpRequest(`${app.url}/auth/signup`, { headers: { cookie: withPlanted(planted, victim.jar) } });
    expect(page.body).not.toContain(attackerAccount.handle);
    // Whatever the victim then submits, no account is created for the attacker's DID.
    const csrf = fieldValue(page.body, '_csrf');
    if (csrf) {
      await httpRequest(`${app.url}/auth/signup`, {
        method: 'POST',
        headers: { cookie: withPlanted(planted, victim.jar), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, username: `v${crypto.randomBytes(4).toString('hex')}` }).toString(),
      });
    }
    expect(await app.ctx.store.repos.users.findByDid(attackerAccount.did)).toBeUndefined();
  });
});
