// Property-based fuzzing of the browser routes (sign-in, callback, hand-off, signup, consent,
// logout) through the whole app. For any input: never a 5xx; refusals are the HTML error page (or
// the form again, with its problem) at the right status; nothing is written unless the request was
// accepted; no parameter reaches a header or the page unescaped.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { sha256Hex } from '../../src/lib/secrets.ts';
import type { SignupTicketPayload } from '../../src/accounts/complete-sign-in.ts';
import { SIGNUP_TICKET_TTL_SECONDS } from '../../src/lifetimes.ts';
import { createPdsAccount, type PdsAccount } from '../support/pds.ts';
import { encodePairs, fuzzOptions, headerValue, loginInput, mostly, nastyString, paramPairs, LONG_TEST_TIMEOUT_MS } from './arbitraries.ts';
import {
  anonymousCsrf,
  contentDigest,
  cookiesFrom,
  countChanges,
  expectCleanHeaders,
  expectErrorPage,
  expectNot5xx,
  ISSUER,
  pkcePair,
  REDIRECT_URI,
  registerClient,
  rowCounts,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  type BrowserSession,
  type HardeningApp,
  type RegisteredClient,
} from './support.ts';
import type request from 'supertest';


vi.setConfig({ testTimeout: LONG_TEST_TIMEOUT_MS });
const pdsUrl = inject('pdsUrl');

let app: HardeningApp;
let alice: BrowserSession;
let anon: { token: string; cookie: string };
let client: RegisteredClient;
let account: PdsAccount;

beforeAll(async () => {
  app = await startHardeningApp();
  alice = await signedInBrowser(app, await seedUser(app.ctx, 'alice'));
  await seedUser(app.ctx, 'bob');
  anon = await anonymousCsrf(app);
  client = await registerClient(app);
  account = await createPdsAccount(pdsUrl, { handlePrefix: 'fuzz' });
});
afterAll(async () => {
  await app?.close();
});

/** Tables that gained rows (a refused request must not add any). */
function grown(before: Record<string, number>, after: Record<string, number>): string[] {
  // The audit log records successful sign-ins, consents and sign-outs by design (bounded by AUDIT_RETENTION_DAYS; test/observe/audit.test.ts).
  return Object.keys(after).filter((t) => t !== 'audit_log' && after[t]! > before[t]!);
}

/** A page must never carry an input unescaped: the markers below only appear if one was. */
function expectEscaped(res: request.Response): void {
  const text = res.text ?? '';
  expect(text).not.toContain('<script>alert(1)</script>');
  expect(text).not.toContain('49<%');
}

/** The sign-in form again, with its problem (a refused handle), or the error page. */
function expectRefusalPage(res: request.Response, statuses: readonly number[]): void {
  expect(statuses, `status ${res.status}: ${(res.text ?? '').slice(0, 300)}`).toContain(res.status);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.headers['cache-control']).toMatch(/no-store/);
}

const csrfChoice = () =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant('valid') },
    { weight: 1, arbitrary: fc.constant('missing') },
    { weight: 1, arbitrary: fc.constant('twice') },
    { weight: 1, arbitrary: nastyString },
  );

function withCsrf(pairs: [string, string][], choice: string, valid: string): [string, string][] {
  if (choice === 'missing') return pairs;
  if (choice === 'twice') return [['_csrf', valid], ['_csrf', valid], ...pairs];
  return [['_csrf', choice === 'valid' ? valid : choice], ...pairs];
}

/** Cross-site signals a browser adds to a forged form post. */
const siteHeaders = fc.oneof(
  { weight: 8, arbitrary: fc.constant({} as Record<string, string>) },
  { weight: 1, arbitrary: fc.constant({ 'Sec-Fetch-Site': 'cross-site' }) },
  { weight: 1, arbitrary: fc.constant({ Origin: 'https://evil.example' }) },
  { weight: 1, arbitrary: fc.constant({ Origin: ISSUER, 'Sec-Fetch-Site': 'same-origin' }) },
  { weight: 1, arbitrary: fc.constant({ Origin: 'null' }) },
);

describe('POST /auth/login', () => {
  it('starts a sign-in only for a real account with a valid form; otherwise refuses and writes nothing', async () => {
    const handle = fc.oneof({ weight: 12, arbitrary: loginInput }, { weight: 1, arbitrary: fc.constant(account.handle) });
    const returnTo = fc.option(fc.oneof(nastyString, fc.constantFrom('/account', '/auth/oauth/consent?request=x', 'http://alice.localhost:3000/p', '/..//evil.example')), {
      nil: undefined,
    });
    const cookie = fc.oneof(
      { weight: 6, arbitrary: fc.constant(anon.cookie) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: headerValue.map((v) => `csrf=${v}`) },
      { weight: 1, arbitrary: fc.constant(alice.cookie) },
    );
    let started = 0;
    await fc.assert(
      fc.asyncProperty(handle, returnTo, csrfChoice(), cookie, siteHeaders, paramPairs(['handle', 'return_to', 'x']), fc.boolean(), async (h, r, csrf, c, site, extra, withExtra) => {
        const pairs: [string, string][] = [['handle', h]];
        if (r !== undefined) pairs.push(['return_to', r]);
        const body = encodePairs(withCsrf(withExtra ? [...pairs, ...extra] : pairs, csrf, anon.token));
        const before = await rowCounts(app);
        let req = app.http().post('/auth/login').type('form').set(site);
        if (c !== undefined) req = req.set('Cookie', c);
        const res = await req.send(body);
        expectNot5xx(res, body.slice(0, 300));
        expectCleanHeaders(res);
        expectEscaped(res);
        if (res.status === 303) {
          started++;
          expect(String(res.headers.location).startsWith(`${new URL(pdsUrl).origin}/oauth/authorize?`)).toBe(true);
          expect(countChanges(before, await rowCounts(app))).toEqual({
            atproto_auth_states: `${before.atproto_auth_states} → ${before.atproto_auth_states! + 1}`,
          });
          return;
        }
        expectRefusalPage(res, [400, 403, 413]);
        if (res.status === 403) expectErrorPage(res, [403]);
        expect(countChanges(before, await rowCounts(app)), body.slice(0, 300)).toEqual({});
      }),
      fuzzOptions(150),
    );
    expect(started).toBeGreaterThan(0);
  });
});

describe('GET /auth/callback', () => {
  /** A real authorization state (as POST /auth/login leaves it), read back from the database: the row the login added. */
  async function liveState(): Promise<string> {
    const keys = async () => (await app.sql().all<{ key: string }>('SELECT key FROM atproto_auth_states')).map((r) => r.key);
    const before = new Set(await keys());
    const res = await app.http().post('/auth/login').type('form').set('Cookie', anon.cookie).send({ handle: account.handle, _csrf: anon.token });
    expect(res.status, res.text).toBe(303);
    const added = (await keys()).filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    return added[0]!;
  }

  it('refuses forged, replayed and broken callbacks with the error page, and adds nothing', async () => {
    const names = ['state', 'code', 'iss', 'error', 'error_description', 'response'];
    const value = fc.oneof(nastyString, fc.constantFrom('access_denied', 'invalid_request', pdsUrl, new URL(pdsUrl).origin, 'cod-abc'));
    let live = 0;
    await fc.assert(
      fc.asyncProperty(paramPairs(names, value), fc.integer({ min: 0, max: 9 }), fc.option(headerValue, { nil: undefined }), async (pairs, dice, cookie) => {
        // One run in ten uses a real, unused state, so the fuzzing reaches the code exchange.
        const withState: [string, string][] = dice === 0 ? [['state', await liveState()], ...pairs.filter(([k]) => k !== 'state')] : pairs;
        if (dice === 0) live++;
        const before = await rowCounts(app);
        let req = app.http().get(`/auth/callback?${encodePairs(withState)}`);
        if (cookie !== undefined) req = req.set('Cookie', cookie);
        const res = await req;
        expectNot5xx(res, encodePairs(withState));
        expectCleanHeaders(res);
        expectEscaped(res);
        // Declined at the PDS: the "cancelled" page, only for a real state.
        if (res.status === 200) {
          expect(dice).toBe(0);
          expect(res.text).toContain('cancelled');
        } else {
          expectErrorPage(res, [400]);
        }
        expect(res.headers['set-cookie'] ?? []).toEqual([]);
        expect(grown(before, await rowCounts(app))).toEqual([]);
      }),
      fuzzOptions(100),
    );
    expect(live).toBeGreaterThan(0);
  });
});

describe('GET /auth/handoff', () => {
  it('refuses anything but a live ticket from the same browser, and adds nothing then', async () => {
    const bindingCookie = 'binding-value-123';
    const payload = (did: string) => ({
      identity: { did, handle: 'alice.test', displayName: null },
      state: { returnTo: '/account', bindingHash: sha256Hex(bindingCookie) },
    });
    const aliceDid = alice.user.did;
    const ticket = fc.oneof(
      { weight: 3, arbitrary: paramPairs(['ticket'], nastyString).map((pairs) => ({ query: encodePairs(pairs), live: false })) },
      { weight: 1, arbitrary: fc.constant({ query: 'live', live: true }) },
    );
    const cookie = fc.oneof(fc.constant(undefined), fc.constant(`signin_binding=${bindingCookie}`), headerValue.map((v) => `signin_binding=${v}`));
    await fc.assert(
      fc.asyncProperty(ticket, cookie, fc.boolean(), async (t, c, known) => {
        const did = known ? aliceDid : `did:plc:${pkcePair().verifier.slice(0, 24).toLowerCase()}`;
        const query = t.live ? `ticket=${encodeURIComponent(await app.ctx.store.repos.tickets.issue('handoff', did, payload(did), 120))}` : t.query;
        const before = await rowCounts(app);
        let req = app.http().get(`/auth/handoff?${query}`);
        if (c !== undefined) req = req.set('Cookie', c);
        const res = await req;
        expectNot5xx(res, query);
        expectCleanHeaders(res);
        if (res.status === 303) {
          expect(t.live && c === `signin_binding=${bindingCookie}`).toBe(true);
          expect(res.headers.location).toBe(known ? '/account' : '/auth/signup');
          return;
        }
        expectErrorPage(res, [400]);
        // A refused live ticket is used up (single use); nothing is added.
        expect(grown(before, await rowCounts(app))).toEqual([]);
      }),
      fuzzOptions(80),
    );
  });
});

describe('/auth/signup', () => {
  it('GET shows the form only for a live signup ticket', async () => {
    const cookie = fc.oneof(
      fc.constant(undefined),
      fc.constant('live'),
      headerValue.map((v) => `signup_ticket=${v}`),
      paramPairs(['signup_ticket']).map((pairs) => encodePairs(pairs).split('&').join('; ')),
    );
    await fc.assert(
      fc.asyncProperty(cookie, async (c) => {
        const live = c === 'live' ? await app.ctx.store.repos.tickets.issue('signup', 'did:plc:getsignup', { handle: 'new.test', displayName: null, returnTo: undefined }, 60) : undefined;
        const digest = await contentDigest(app);
        let req = app.http().get('/auth/signup');
        if (c !== undefined) req = req.set('Cookie', live ? `signup_ticket=${live}` : c);
        const res = await req;
        expectNot5xx(res);
        expectCleanHeaders(res);
        if (live) expect(res.status).toBe(200);
        else expectErrorPage(res, [400]);
        expect(await contentDigest(app)).toBe(digest);
      }),
      fuzzOptions(60),
    );
  });

  it('POST creates an account only for a valid name; refusals write nothing and keep the ticket', async () => {
    const username = fc.oneof(
      nastyString,
      fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,20}[a-z0-9]$/),
      fc.constantFrom('alice', 'ALICE', ' bob ', 'admin', 'xn--abc', 'ab', 'a'.repeat(64), 'a--b', '-abc', 'abc-'),
    );
    let created = 0;
    await fc.assert(
      fc.asyncProperty(username, csrfChoice(), fc.boolean(), siteHeaders, paramPairs(['username', '_csrf']), fc.boolean(), async (name, csrf, liveTicket, site, extra, withExtra) => {
        const did = `did:plc:${pkcePair().verifier.slice(0, 24).toLowerCase()}`;
        const payload: SignupTicketPayload = { handle: 'new.test', displayName: null, returnTo: undefined };
        const ticket = liveTicket ? await app.ctx.store.repos.tickets.issue('signup', did, payload, SIGNUP_TICKET_TTL_SECONDS) : 'not-a-ticket';
        const pairs = withCsrf(withExtra ? [['username', name], ...extra] : [['username', name]], csrf, anon.token);
        const before = await rowCounts(app);
        const res = await app.http()
          .post('/auth/signup')
          .type('form')
          .set(site)
          .set('Cookie', `${anon.cookie}; signup_ticket=${ticket}`)
          .send(encodePairs(pairs));
        expectNot5xx(res, encodePairs(pairs));
        expectCleanHeaders(res);
        expectEscaped(res);
        if (res.status === 303) {
          created++;
          expect(res.headers.location).toBe('/account');
          expect(await app.ctx.store.repos.users.findByDid(did)).toBeDefined();
          expect(countChanges(before, await rowCounts(app))).toEqual({
            users: `${before.users} → ${before.users! + 1}`,
            wikis: `${before.wikis} → ${before.wikis! + 1}`,
            sessions: `${before.sessions} → ${before.sessions! + 1}`,
            sign_in_tickets: `${before.sign_in_tickets} → ${before.sign_in_tickets! - 1}`,
            audit_log: `${before.audit_log} → ${before.audit_log! + 1}`, // the signup event (src/audit/)
          });
          return;
        }
        expectRefusalPage(res, [400, 403, 409]);
        expect(countChanges(before, await rowCounts(app))).toEqual({});
        // The ticket survives a refused name, so the person can try another.
        if (liveTicket) expect(await app.ctx.store.repos.tickets.peek('signup', ticket)).toBeDefined();
      }),
      fuzzOptions(150),
    );
    expect(created).toBeGreaterThan(0);
  });
});

describe('/auth/oauth/consent', () => {
  const pending = () =>
    app.ctx.store.repos.authorizationRequests.insert({
      clientId: client.clientId,
      redirectUri: REDIRECT_URI,
      redirectUriSent: true,
      state: 's',
      codeChallenge: pkcePair().challenge,
      scopes: ['wiki:read'],
      wikiSlug: undefined,
    });
  const who = () =>
    fc.oneof(
      { weight: 5, arbitrary: fc.constant('alice') },
      { weight: 1, arbitrary: fc.constant('anonymous') },
      { weight: 1, arbitrary: headerValue.map((v) => `session=${v}`) },
    );
  const cookieFor = (w: string) => (w === 'alice' ? alice.cookie : w === 'anonymous' ? anon.cookie : `${anon.cookie}; ${w}`);

  it('GET: the page for a live request, sign-in first when signed out, the error page otherwise; never a write', async () => {
    const requestParam = fc.oneof(fc.constant('live'), paramPairs(['request', 'x']).map(encodePairs));
    await fc.assert(
      fc.asyncProperty(requestParam, who(), async (r, w) => {
        const query = r === 'live' ? `request=${encodeURIComponent(await pending())}` : r;
        // A signed-in request records the session's last use once a minute (sessions.repo.ts touch):
        // that write is due whenever the suite has run a minute since alice's last request, so let
        // it happen before the snapshot; the consent GET itself must write nothing.
        if (w === 'alice') expect((await app.http().get('/account').set('Cookie', alice.cookie)).status).toBe(200);
        const digest = await contentDigest(app);
        const res = await app.http().get(`/auth/oauth/consent?${query}`).set('Cookie', cookieFor(w));
        expectNot5xx(res, query);
        expectCleanHeaders(res);
        expectEscaped(res);
        if (res.status === 200) {
          expect(r === 'live' && w === 'alice').toBe(true);
        } else if (res.status === 303) {
          expect(w).not.toBe('alice');
          expect(String(res.headers.location)).toMatch(/^\/auth\/login\?return_to=%2Fauth%2Foauth%2Fconsent%3Frequest%3D/);
        } else {
          expectErrorPage(res, [400]);
        }
        expect(await contentDigest(app)).toBe(digest);
      }),
      fuzzOptions(80),
    );
  });

  it('POST: a code only for Allow on a live request of the signed-in owner; every refusal adds nothing', async () => {
    const decision = fc.option(mostly('allow', ['deny', 'ALLOW']), { nil: undefined });
    const wiki = fc.option(mostly('alice', ['bob', 'nobody', 'ALICE']), { nil: undefined });
    let codes = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), decision, wiki, who(), csrfChoice(), siteHeaders, paramPairs(['request', 'decision', 'wiki']), fc.boolean(), async (live, d, wk, w, csrf, site, extra, withExtra) => {
        const pairs: [string, string][] = [['request', live ? await pending() : 'unknown']];
        if (d !== undefined) pairs.push(['decision', d]);
        if (wk !== undefined) pairs.push(['wiki', wk]);
        const token = w === 'alice' ? alice.csrf : anon.token;
        const body = encodePairs(withCsrf(withExtra ? [...pairs, ...extra] : pairs, csrf, token));
        const before = await rowCounts(app);
        const res = await app.http().post('/auth/oauth/consent').type('form').set(site).set('Cookie', cookieFor(w)).send(body);
        expectNot5xx(res, body);
        expectCleanHeaders(res);
        expectEscaped(res);
        const after = await rowCounts(app);
        if (res.status === 303) {
          const location = String(res.headers.location);
          if (location.startsWith('/auth/login?')) {
            expect(w).not.toBe('alice');
            expect(countChanges(before, after)).toEqual({});
            return;
          }
          const url = new URL(location);
          expect(`${url.origin}${url.pathname}`).toBe(REDIRECT_URI);
          expect(url.searchParams.get('iss')).toBe(ISSUER);
          expect(url.searchParams.get('state')).toBe('s');
          if (url.searchParams.has('code')) {
            codes++;
            expect(d).toBe('allow');
            expect(grown(before, after)).toEqual(['authorization_codes']);
          } else {
            expect(url.searchParams.get('error')).toBe('access_denied');
            expect(grown(before, after)).toEqual([]);
          }
          return;
        }
        if (res.status === 400 && res.text.includes('Choose the wiki this app may use')) {
          // Allow with no wiki chosen (issue 10 item 6): the consent page again, nothing written, still pending.
          expect(w).toBe('alice');
          expect(live).toBe(true);
          expect(countChanges(before, after)).toEqual({});
          return;
        }
        expectErrorPage(res, [400, 403, 413]);
        expect(countChanges(before, after)).toEqual({});
      }),
      fuzzOptions(150),
    );
    expect(codes).toBeGreaterThan(0);
  });
});

describe('POST /auth/logout', () => {
  it('signs out only with a valid form; refusals and anonymous sign-outs change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('own', 'anonymous', 'garbage'), csrfChoice(), siteHeaders, async (w, csrf, site) => {
        // A fresh session each time, so a successful sign-out does not end the others.
        const session = w === 'own' ? await signedInBrowser(app, alice.user) : undefined;
        const cookie = session ? session.cookie : w === 'anonymous' ? anon.cookie : `${anon.cookie}; session=garbage`;
        const token = session ? session.csrf : anon.token;
        const before = await rowCounts(app);
        const digest = await contentDigest(app);
        const res = await app.http().post('/auth/logout').type('form').set(site).set('Cookie', cookie).send(encodePairs(withCsrf([], csrf, token)));
        expectNot5xx(res);
        expectCleanHeaders(res);
        if (res.status === 303) {
          expect(res.headers.location).toBe('/');
          expect(grown(before, await rowCounts(app))).toEqual([]);
          if (session) {
            const jar = cookiesFrom(res);
            expect(jar.has('session')).toBe(false);
            expect(await app.ctx.store.repos.sessions.isLive(sessionIdOf(session), alice.user.did)).toBe(false);
          } else {
            expect(await contentDigest(app)).toBe(digest);
          }
          return;
        }
        expectErrorPage(res, [403]);
        expect(await contentDigest(app)).toBe(digest);
      }),
      fuzzOptions(60),
    );
  });
});

function sessionIdOf(session: BrowserSession): string {
  // The sessions row id is the SHA-256 of the cookie's secret (src/accounts/session.ts).
  return sha256Hex(session.cookie.match(/(?:^|; )session=([^;]+)/)?.[1] ?? '');
}
