// End to end against the local PDS: sign in with an ATProto handle, first-time signup, the
// account page, sign-out, and the ways a sign-in can go wrong.
// One app for the file; tests run concurrently, each with its own PDS account(s) and cookie jar.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deriveUsername } from '../../src/accounts/username.ts';
import { cookieNames, IDENTITY_COOKIE } from '../../src/accounts/cookies.ts';

const SESSION_COOKIE = cookieNames({ production: false }).session;
import { startTestApp, type TestApp } from '../support/app.ts';
import { approveAtPds, createPdsAccount, putProfileAtPds, updateHandleAtPds, type PdsAccount } from '../support/pds.ts';
import {
  browser,
  chooseUsername,
  fieldValue,
  location,
  pageText,
  setCookieLine,
  signIn,
  signUpNew,
  startLogin,
  type Browser,
} from '../support/browser-flow.ts';

const pdsUrl = inject('pdsUrl');

let app: TestApp;

beforeAll(async () => {
  // Every test signs in from 127.0.0.1: lift the per-address limit out of the way.
  app = await startTestApp({ RATE_LIMIT_LOGIN_PER_MINUTE: '10000' });
});
afterAll(async () => {
  await app?.close();
});

const newAccount = (prefix = 'u') => createPdsAccount(pdsUrl, { handlePrefix: prefix });

function userRow(did: string) {
  return app.ctx.store.repos.users.findByDid(did);
}

function atprotoSessionRow(did: string): string | undefined {
  const row = app.ctx.sqlite!.db.prepare('SELECT value FROM atproto_sessions WHERE did = ?').get(did) as { value: string } | undefined;
  return row?.value;
}

describe.concurrent('first sign-in', () => {
  it('goes through signup with the username suggested from the handle, then shows DID and handle', async () => {
    const account = await newAccount('first');
    const b = browser(app);
    const { handoff } = await signIn(app, b, account);

    // Not signed in yet: only a short-lived signup ticket.
    expect(location(handoff)).toBe('/auth/signup');
    expect(b.jar.has(SESSION_COOKIE)).toBe(false);
    expect(await userRow(account.did)).toBeUndefined();

    const { suggested, res } = await chooseUsername(b);
    expect(suggested).toBe(deriveUsername(account.handle));
    expect(res.status).toBe(303);
    expect(location(res)).toBe('/account');
    expect(b.jar.has(SESSION_COOKIE)).toBe(true);
    expect(b.jar.has('signup_ticket')).toBe(false);

    const page = await b.get('/account');
    expect(page.status).toBe(200);
    const text = pageText(page.body);
    expect(text).toContain(account.did);
    expect(text).toContain(`@${account.handle}`);
    expect(text).toContain(suggested!);
    // The first wiki has the username as its slug.
    expect(page.body).toContain(`http://${suggested}.localhost:${app.port}/mcp`);
    expect(await userRow(account.did)).toMatchObject({ did: account.did, handle: account.handle, username: suggested });
    expect((await app.ctx.store.repos.wikis.listByOwner(account.did)).map((w) => w.slug)).toEqual([suggested]);
  });

  it('shows the signup page only with a live signup ticket', async () => {
    const res = await browser(app).get('/auth/signup');
    expect(res.status).toBe(400);
    expect(pageText(res.body)).toContain('Please sign in again');
  });
});

describe.concurrent('returning user', () => {
  it('skips signup and lands on the account page with a new session', async () => {
    const account = await newAccount('back');
    await signUpNew(app, browser(app), account);

    const b = browser(app);
    const { handoff } = await signIn(app, b, account);
    expect(location(handoff)).toBe('/account');
    expect(b.jar.has(SESSION_COOKIE)).toBe(true);
    expect(b.jar.has('signup_ticket')).toBe(false);
    const page = await b.get('/account');
    expect(page.status).toBe(200);
    expect(pageText(page.body)).toContain(account.did);
    const sessions = app.ctx.sqlite!.db.prepare('SELECT count(*) AS n FROM sessions WHERE did = ?').get(account.did) as { n: number };
    expect(sessions.n).toBe(2);
  });

  it('is sent from the login page straight to the account page', async () => {
    const account = await newAccount('again');
    const b = browser(app);
    await signUpNew(app, b, account);
    const res = await b.get('/auth/login');
    expect(res.status).toBe(303);
    expect(location(res)).toBe('/account');
  });
});

describe.concurrent('sign-out', () => {
  it('revokes the browser session: the old cookie no longer opens the account page', async () => {
    const account = await newAccount('out');
    const b = browser(app);
    await signUpNew(app, b, account);
    const oldCookie = b.jar.get(SESSION_COOKIE)!;
    const page = await b.get('/account');
    expect(page.status).toBe(200);
    const res = await b.post('/auth/logout', { _csrf: fieldValue(page.body, '_csrf')! });
    expect(res.status).toBe(303);
    expect(location(res)).toBe('/');
    expect(b.jar.has(SESSION_COOKIE)).toBe(false);
    // Sign-out ends both: the wikis' identity cookie is cleared too.
    expect(setCookieLine(res, IDENTITY_COOKIE)).toMatch(/^platform_identity=;.*expires=Thu, 01 Jan 1970/i);
    expect(b.jar.has(IDENTITY_COOKIE)).toBe(false);

    const replay = browser(app, new Map([[SESSION_COOKIE, oldCookie]]));
    const after = await replay.get('/account');
    expect(after.status).toBe(303);
    expect(location(after)).toBe('/auth/login?return_to=%2Faccount');
    const row = app.ctx.sqlite!.db.prepare('SELECT revoked_at FROM sessions WHERE did = ?').get(account.did) as { revoked_at: number | null };
    expect(row.revoked_at).not.toBeNull();
  });

  it('revokes the ATProto session: the row is gone and the PDS refuses the old tokens', async () => {
    const account = await newAccount('revoke');
    const b = browser(app);
    await signUpNew(app, b, account);

    // The tokens work before sign-out.
    const live = await (await app.ctx.atproto.get()).restore(account.did, false);
    expect((await live.fetchHandler('/xrpc/com.atproto.server.getSession')).status).toBe(200);
    const saved = atprotoSessionRow(account.did);
    expect(saved).toBeDefined();

    const page = await b.get('/account');
    expect((await b.post('/auth/logout', { _csrf: fieldValue(page.body, '_csrf')! })).status).toBe(303);
    expect(atprotoSessionRow(account.did)).toBeUndefined();

    // Put the old tokens back: refreshing them must fail at the PDS.
    app.ctx.sqlite!.db.prepare('INSERT INTO atproto_sessions (did, value, updated_at) VALUES (?, ?, 0)').run(account.did, saved!);
    await expect((await app.ctx.atproto.get()).restore(account.did, true)).rejects.toThrow();
  });

  it('refuses a sign-out form without a CSRF token', async () => {
    const account = await newAccount('nocsrf');
    const b = browser(app);
    await signUpNew(app, b, account);
    const res = await b.post('/auth/logout', {});
    expect(res.status).toBe(403);
    expect((await b.get('/account')).status).toBe(200);
  });
});

describe.concurrent('sign-in that does not complete', () => {
  it('denial at the PDS shows a friendly "Sign-in cancelled" page and signs nobody in', async () => {
    const account = await newAccount('deny');
    const b = browser(app);
    const authorizeUrl = await startLogin(b, account.handle);
    const callbackUrl = await approveAtPds(authorizeUrl, account, { deny: true });
    const res = await b.get(callbackUrl);
    expect(res.status).toBe(200);
    expect(pageText(res.body)).toContain('Sign-in cancelled');
    expect(pageText(res.body)).toContain('no account was created');
    expect(setCookieLine(res, SESSION_COOKIE)).toBeUndefined();
    expect(b.jar.has(SESSION_COOKIE)).toBe(false);
    expect(b.jar.has('signup_ticket')).toBe(false);
    expect(await userRow(account.did)).toBeUndefined();
    expect(atprotoSessionRow(account.did)).toBeUndefined();
  });

  it('a replayed callback gets a plain error page, no stack and no session', async () => {
    const account = await newAccount('replay');
    const original = browser(app);
    const { callbackUrl } = await signIn(app, original, account);
    const attacker = browser(app);

    // Replayed by the same browser, and by another one that picked the URL up.
    for (const b of [original, attacker]) {
      const res = await b.get(callbackUrl);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(pageText(res.body)).toContain('This sign-in link is invalid, expired or was already used');
      expect(res.body).not.toMatch(/\bat .*\.(ts|js):\d+/);
      expect(res.body).not.toMatch(/OAuthCallbackError|TypeError|Error:/);
      expect(res.headers.location).toBeUndefined();
      expect(setCookieLine(res, SESSION_COOKIE)).toBeUndefined();
      expect(b.jar.has(SESSION_COOKIE)).toBe(false);
    }
    expect(attacker.jar.size).toBe(0);
  });

  it('a hand-off ticket works once only', async () => {
    const account = await newAccount('ticket');
    const b = browser(app);
    const authorizeUrl = await startLogin(b, account.handle);
    const callback = await b.get(await approveAtPds(authorizeUrl, account));
    const handoffUrl = location(callback);
    expect((await b.get(handoffUrl)).status).toBe(303);
    const again = await b.get(handoffUrl);
    expect(again.status).toBe(400);
    expect(pageText(again.body)).toContain('already used');
  });

  it('a hand-off in another browser (no binding cookie) is refused', async () => {
    const account = await newAccount('bind');
    const b = browser(app);
    const authorizeUrl = await startLogin(b, account.handle);
    const callback = await b.get(await approveAtPds(authorizeUrl, account));
    const other = browser(app);
    const res = await other.get(location(callback));
    expect(res.status).toBe(400);
    expect(pageText(res.body)).toContain('started in another browser');
    expect(other.jar.has(SESSION_COOKIE)).toBe(false);
    expect(other.jar.has('signup_ticket')).toBe(false);
  });

  it('an unknown handle re-renders the login form with a plain message', async () => {
    const b = browser(app);
    const page = await b.get('/auth/login');
    const res = await b.post('/auth/login', { handle: 'nobody-xyz.test', _csrf: fieldValue(page.body, '_csrf')! });
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(pageText(res.body)).toContain('We could not find "nobody-xyz.test". Check the spelling of your handle');
    expect(fieldValue(res.body, 'handle')).toBe('nobody-xyz.test');
    expect(fieldValue(res.body, '_csrf')).toBeTruthy();
    expect(res.body).toContain('<form method="post" action="/auth/login"');
  });

  it('input that is no handle, DID or URL is refused before contacting anyone', async () => {
    const b = browser(app);
    const page = await b.get('/auth/login');
    const input = '"><script>alert(1)</script>';
    const res = await b.post('/auth/login', { handle: input, _csrf: fieldValue(page.body, '_csrf')! });
    expect(res.status).toBe(400);
    expect(pageText(res.body)).toContain('Enter your handle (for example alice.bsky.social)');
    // Given back to fix, escaped.
    expect(fieldValue(res.body, 'handle')).toBe(input);
    expect(res.body).not.toContain('<script>');
  });
});

describe.concurrent('what the PDS says is kept up to date', () => {
  it('a handle changed at the PDS shows on the account page after the next sign-in', async () => {
    const account = await newAccount('ren');
    await signUpNew(app, browser(app), account);
    const username = (await userRow(account.did))!.username;

    const newHandle = `n${account.handle}`;
    await updateHandleAtPds(pdsUrl, account.accessJwt, newHandle);
    const b = browser(app);
    const { handoff } = await signIn(app, b, { ...account, handle: newHandle });
    expect(location(handoff)).toBe('/account');

    const text = pageText((await b.get('/account')).body);
    expect(text).toContain(`@${newHandle}`);
    expect(text).not.toContain(`@${account.handle}`);
    expect(await userRow(account.did)).toMatchObject({ handle: newHandle, username });
  });

  it('the display name from the profile record is stored at signup and refreshed at sign-in', async () => {
    const account = await newAccount('name');
    await putProfileAtPds(pdsUrl, account.did, account.accessJwt, 'Robot Tester');
    const b = browser(app);
    await signUpNew(app, b, account);
    expect((await userRow(account.did))?.displayName).toBe('Robot Tester');
    expect(pageText((await b.get('/account')).body)).toContain('Robot Tester');

    await putProfileAtPds(pdsUrl, account.did, account.accessJwt, 'Robot Renamed');
    await signIn(app, browser(app), account);
    expect((await userRow(account.did))?.displayName).toBe('Robot Renamed');
  });

  it('no profile record means no display name', async () => {
    const account = await newAccount('noname');
    await signUpNew(app, browser(app), account);
    expect((await userRow(account.did))?.displayName).toBeNull();
  });
});

describe.concurrent('choosing a username', () => {
  async function atSignup(prefix: string): Promise<{ account: PdsAccount; b: Browser }> {
    const account = await newAccount(prefix);
    const b = browser(app);
    const { handoff } = await signIn(app, b, account);
    expect(location(handoff)).toBe('/auth/signup');
    return { account, b };
  }

  it('a reserved username is refused with a message, and another name can then be chosen', async () => {
    const { account, b } = await atSignup('resv');
    const { res } = await chooseUsername(b, 'admin');
    expect(res.status).toBe(400);
    expect(pageText(res.body)).toContain('"admin" is reserved');
    expect(fieldValue(res.body, 'username')).toBe('admin');
    expect(await userRow(account.did)).toBeUndefined();
    expect(b.jar.has(SESSION_COOKIE)).toBe(false);

    const retry = await chooseUsername(b);
    expect(retry.res.status).toBe(303);
    expect((await userRow(account.did))?.username).toBe(deriveUsername(account.handle));
  });

  it('a taken username is refused with a message, whatever its case', async () => {
    const first = await atSignup('taken');
    const name = `t${deriveUsername(first.account.handle)}`;
    expect((await chooseUsername(first.b, name)).res.status).toBe(303);

    const second = await atSignup('taken');
    for (const attempt of [name, name.toUpperCase()]) {
      const { res } = await chooseUsername(second.b, attempt);
      expect(res.status).toBe(409);
      expect(pageText(res.body)).toContain(`"${name}" is already taken`);
    }
    expect(await userRow(second.account.did)).toBeUndefined();
    expect((await app.ctx.store.repos.users.findByUsername(name))?.did).toBe(first.account.did);
  });

  it('a badly formed username is refused with the rule it breaks', async () => {
    const { account, b } = await atSignup('badnm');
    const { res } = await chooseUsername(b, '-x-');
    expect(res.status).toBe(400);
    expect(pageText(res.body)).toContain('do not start or end with a hyphen');
    expect(await userRow(account.did)).toBeUndefined();
  });

  it('parallel signups for one username have exactly one winner', async () => {
    const contenders = await Promise.all(['race', 'race', 'race'].map((p) => atSignup(p)));
    const name = `r${deriveUsername(contenders[0]!.account.handle)}`;
    const pages = await Promise.all(contenders.map(({ b }) => b.get('/auth/signup')));
    const results = await Promise.all(
      contenders.map(({ b }, i) => b.post('/auth/signup', { _csrf: fieldValue(pages[i]!.body, '_csrf')!, username: name })),
    );

    const winners = results.flatMap((res, i) => (res.status === 303 ? [contenders[i]!] : []));
    expect(winners).toHaveLength(1);
    for (const res of results.filter((r) => r.status !== 303)) {
      expect(res.status).toBe(409);
      expect(pageText(res.body)).toContain('is already taken');
    }
    const winner = winners[0]!;
    expect((await app.ctx.store.repos.users.findByUsername(name))?.did).toBe(winner.account.did);
    expect((await app.ctx.store.repos.wikis.findBySlug(name))?.ownerDid).toBe(winner.account.did);
    for (const { account } of contenders.filter((c) => c !== winner)) {
      expect(await userRow(account.did)).toBeUndefined();
    }
  });
});

describe.concurrent('CSRF on the sign-in form', () => {
  it('POST /auth/login without a CSRF token is refused with 403', async () => {
    const b = browser(app);
    await b.get('/auth/login');
    expect(b.jar.has('csrf')).toBe(true);
    const res = await b.post('/auth/login', { handle: 'alice.test' });
    expect(res.status).toBe(403);
    expect(pageText(res.body)).toContain('Form expired');
    expect(res.headers.location).toBeUndefined();
  });

  it('POST /auth/login without the CSRF cookie, or with a forged token, is refused with 403', async () => {
    const page = await browser(app).get('/auth/login');
    const token = fieldValue(page.body, '_csrf')!;
    expect((await browser(app).post('/auth/login', { handle: 'alice.test', _csrf: token })).status).toBe(403);

    const b = browser(app);
    await b.get('/auth/login');
    expect((await b.post('/auth/login', { handle: 'alice.test', _csrf: `${token.slice(0, -4)}abcd` })).status).toBe(403);
  });

  it('a cross-site form post is refused even with a valid token', async () => {
    const b = browser(app);
    const page = await b.get('/auth/login');
    const csrf = fieldValue(page.body, '_csrf')!;
    const res = await b.post('/auth/login', { handle: 'alice.test', _csrf: csrf }, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    const res2 = await b.post('/auth/login', { handle: 'alice.test', _csrf: csrf }, { 'sec-fetch-site': 'cross-site' });
    expect(res2.status).toBe(403);
  });
});

describe.concurrent('return_to', () => {
  it('is honoured when it is a path on this site, for a returning user', async () => {
    const account = await newAccount('retto');
    await signUpNew(app, browser(app), account);
    const { handoff } = await signIn(app, browser(app), account, { returnTo: '/account?tab=wikis' });
    expect(location(handoff)).toBe('/account?tab=wikis');
  });

  it('is honoured after signup for a first-time user', async () => {
    const account = await newAccount('retnew');
    const b = browser(app);
    const { handoff } = await signIn(app, b, account, { returnTo: '/account?welcome=1' });
    expect(location(handoff)).toBe('/auth/signup');
    const { res } = await chooseUsername(b);
    expect(location(res)).toBe('/account?welcome=1');
  });

  it('is honoured for a wiki the person owns, and not for a wiki of someone else', async () => {
    const account = await newAccount('retwiki');
    await signUpNew(app, browser(app), account);
    const target = `http://${(await userRow(account.did))!.username}.localhost:${app.port}/page`;
    const { handoff } = await signIn(app, browser(app), account, { returnTo: target });
    expect(location(handoff)).toBe(target);
    const other = await signIn(app, browser(app), account, { returnTo: `http://somewiki.localhost:${app.port}/page` });
    expect(location(other.handoff)).toBe('/account');
  });

  it('is ignored when it points at another site, in the query and in the form', async () => {
    const account = await newAccount('retevil');
    await signUpNew(app, browser(app), account);

    const b = browser(app);
    const page = await b.get(`/auth/login?return_to=${encodeURIComponent('https://evil.example')}`);
    expect(fieldValue(page.body, 'return_to')).toBeUndefined();
    expect(page.body).not.toContain('evil.example');

    const viaQuery = await signIn(app, browser(app), account, { returnTo: 'https://evil.example' });
    expect(location(viaQuery.handoff)).toBe('/account');
    const viaForm = await signIn(app, browser(app), account, { bodyReturnTo: 'https://evil.example/steal' });
    expect(location(viaForm.handoff)).toBe('/account');
    const dotted = await signIn(app, browser(app), account, { bodyReturnTo: '/..//evil.example' });
    expect(location(dotted.handoff)).toBe('/account');
  });
});

describe.concurrent('cookies and security headers', () => {
  it('the session cookie is HttpOnly, SameSite=Lax, Path=/, host-only, and not Secure in development', async () => {
    const account = await newAccount('cookie');
    const b = browser(app);
    const res = await signUpNew(app, b, account);
    const line = setCookieLine(res, SESSION_COOKIE);
    expect(line).toBeDefined();
    const attrs = line!.split(';').slice(1).map((a) => a.trim().toLowerCase());
    expect(attrs).toContain('httponly');
    expect(attrs).toContain('samesite=lax');
    expect(attrs).toContain('path=/');
    expect(attrs).not.toContain('secure');
    expect(attrs.some((a) => a.startsWith('domain='))).toBe(false);
    expect(attrs).toContain(`max-age=${app.config.sessionTtlSeconds}`);

    // The same flags when a returning user signs in.
    const again = await signIn(app, browser(app), account);
    const line2 = setCookieLine(again.handoff, SESSION_COOKIE)!.toLowerCase();
    expect(line2).toMatch(/; httponly/);
    expect(line2).toMatch(/; samesite=lax/);
    expect(line2).not.toMatch(/; secure/);

    // The wikis' identity cookie comes with it: short-lived, HttpOnly, SameSite=Lax.
    const identity = setCookieLine(again.handoff, IDENTITY_COOKIE)!.toLowerCase();
    expect(identity).toMatch(/; max-age=900/);
    expect(identity).toMatch(/; httponly/);
    expect(identity).toMatch(/; samesite=lax/);
  });

  it('the sign-in helper cookies are HttpOnly too', async () => {
    const b = browser(app);
    const page = await b.get('/auth/login');
    expect(setCookieLine(page, 'csrf')?.toLowerCase()).toMatch(/; httponly/);
    const res = await b.post('/auth/login', { handle: (await newAccount('hc')).handle, _csrf: fieldValue(page.body, '_csrf')! });
    expect(setCookieLine(res, 'signin_binding')?.toLowerCase()).toMatch(/; httponly.*samesite=lax|samesite=lax.*httponly/);
  });

  it("pages forbid framing: CSP frame-ancestors 'none' and X-Frame-Options DENY", async () => {
    const account = await newAccount('frame');
    const b = browser(app);
    const pages = [await b.get('/'), await b.get('/auth/login'), await b.get('/no-such-page')];
    await signIn(app, b, account);
    pages.push(await b.get('/auth/signup'));
    await chooseUsername(b);
    pages.push(await b.get('/account'));

    for (const res of pages) {
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('pages with per-user state are not cached', async () => {
    const login = await browser(app).get('/auth/login');
    expect(login.headers['cache-control']).toBe('no-store');
  });
});
