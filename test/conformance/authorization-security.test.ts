// The authorization endpoint and the consent page against the attacks of RFC 9700: open
// redirectors and code theft through unverified redirect URIs (§4.1), loopback redirects (RFC 8252
// §7.3), errors before consent shown as a page, never redirected (§4.11.2), responses after the
// person’s decision that carry state and iss (RFC 6749 §4.1.2.1, RFC 9207), PKCE downgrade
// (§2.1.1), CSRF on the consent form (§4.7), clickjacking (§4.16), open redirects through return_to
// (§4.11), and consent that is single-use, per person and per wiki.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256Hex } from '../../src/lib/secrets.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { browser, fieldValue, location, pageText, signIn, type Browser } from '../support/browser-flow.ts';
import type { TestApp } from '../support/app.ts';
import { createPdsAccount, type HttpResponse } from '../support/pds.ts';
import { decodeJwt, startConformanceApp } from './support.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { authorizeParams, authorizeUrl, exchangeCode, newPkce, obtainCode, openConsent, registerClaudeAi, registerClaudeCode, registerClient, submitConsent, tokenRequest, type RegisteredClient } from '../support/oauth-flow.ts';

let app: TestApp;
let alice: Person;
let bob: Person;
let claudeCode: RegisteredClient;
let claudeAi: RegisteredClient;

beforeAll(async () => {
  app = await startConformanceApp();
  [alice, bob] = [await seedPerson(app, 'alice'), await seedPerson(app, 'bob')];
  [claudeCode, claudeAi] = await Promise.all([registerClaudeCode(app), registerClaudeAi(app)]);
});

afterAll(async () => {
  await app?.close();
});

const codeCount = (): Promise<number> => app.sql().count('authorization_codes');

/** An error page: HTML, 400, and no Location header (nothing is sent to an unverified address). */
function expectErrorPage(res: HttpResponse, status = 400): void {
  expect(res.status, res.body.slice(0, 300)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.headers.location).toBeUndefined();
  expect(res.body).toMatch(/<h1>/);
}

/** An error sent back to the client's redirect URI: error, the request's state, and iss; no code. */
function expectErrorRedirect(res: HttpResponse, redirectUri: string, error: string, state: string | undefined): URL {
  expect(res.status, res.body.slice(0, 300)).toBeGreaterThanOrEqual(302);
  expect(res.status).toBeLessThanOrEqual(303);
  const url = new URL(location(res));
  expect(url.origin + url.pathname).toBe(new URL(redirectUri).origin + new URL(redirectUri).pathname);
  expect(url.searchParams.get('error')).toBe(error);
  expect(url.searchParams.get('iss')).toBe(app.url);
  if (state === undefined) expect(url.searchParams.has('state')).toBe(false);
  else expect(url.searchParams.get('state')).toBe(state);
  expect(url.searchParams.has('code')).toBe(false);
  return url;
}

describe('until the client and its redirect URI are verified, errors are a page, never a redirect (RFC 9700 §4.1.1)', () => {
  const cases: [string, () => Record<string, string | string[] | undefined>][] = [
    ['an unknown client', () => ({ client_id: 'rc_does_not_exist' })],
    ['no client_id at all', () => ({ client_id: undefined })],
    ['a redirect_uri that was not registered', () => ({ redirect_uri: 'https://evil.example/callback' })],
    ['https://evil.example', () => ({ redirect_uri: 'https://evil.example' })],
    ['a registered redirect_uri with a fragment', () => ({ redirect_uri: `${claudeCode.redirectUri}#frag` })],
    ['a loopback redirect_uri with a fragment', () => ({ redirect_uri: 'http://127.0.0.1:9999/callback#x' })],
    ['client_id given twice', () => ({ client_id: [claudeCode.clientId, claudeCode.clientId] })],
    ['redirect_uri given twice', () => ({ redirect_uri: [claudeCode.redirectUri, 'https://evil.example/cb'] })],
    ['a javascript: redirect_uri', () => ({ redirect_uri: 'javascript:alert(document.domain)//' })],
    ['an unknown client and every other parameter wrong too', () => ({ client_id: 'rc_nope', response_type: 'token', code_challenge: undefined })],
  ];

  it.each(cases)('%s → 400 error page, no Location', async (_name, overrides) => {
    const res = await alice.browser.get(authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce(), overrides())));
    expectErrorPage(res);
    expect(res.body).not.toContain('evil.example');
  });

  it("a client_id metadata document URL that can't be fetched is an unknown client → page", async () => {
    const res = await alice.browser.get(
      authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce(), { client_id: 'https://127.0.0.1:1/client.json', redirect_uri: 'https://evil.example/cb' })),
    );
    expectErrorPage(res);
  });
});

describe('loopback redirect URIs: any port; localhost, 127.0.0.1 and [::1] alike; same path (RFC 8252 §7.3)', () => {
  // Registered: http://localhost:54321/callback
  it.each([
    'http://localhost:54321/callback',
    'http://localhost:1/callback',
    'http://localhost/callback',
    'http://127.0.0.1:60123/callback',
    'http://[::1]:33333/callback',
  ])('%s is accepted, and the code goes exactly there', async (redirectUri) => {
    const params = authorizeParams(claudeCode, alice, newPkce(), { redirect_uri: redirectUri });
    const page = await openConsent(alice.browser, authorizeUrl(app, params));
    const done = await submitConsent(alice.browser, page, 'allow');
    const back = new URL(location(done));
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe(params.state);
    expect(back.searchParams.get('iss')).toBe(app.url);
  });

  it.each([
    ['another path', 'http://localhost:1/other'],
    ['a trailing slash', 'http://localhost:54321/callback/'],
    ['an added query', 'http://localhost:54321/callback?next=x'],
    ['another loopback address', 'http://127.0.0.2:54321/callback'],
    ['a name that starts like localhost', 'http://localhost.evil.example:54321/callback'],
    ['user info', 'http://evil@localhost:54321/callback'],
    ['https on loopback (not what was registered)', 'https://localhost:54321/callback'],
    ['a backslash', 'http://localhost:54321\\@evil.example/callback'],
  ])('%s is refused with a page', async (_name, redirectUri) => {
    const res = await alice.browser.get(authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce(), { redirect_uri: redirectUri })));
    expectErrorPage(res);
  });
});

describe('other redirect URIs must match exactly (RFC 9700 §4.1.3)', () => {
  // Registered: https://claude.ai/api/mcp/auth_callback
  it('the registered one is accepted', async () => {
    const res = await alice.browser.get(authorizeUrl(app, authorizeParams(claudeAi, alice, newPkce())));
    expect(res.status).toBe(303);
    expect(location(res)).toMatch(/^\/auth\/oauth\/consent\?request=/);
  });

  it.each([
    'https://claude.ai/api/mcp/auth_callback/',
    'https://claude.ai/api/mcp/Auth_Callback',
    'https://claude.ai:443/api/mcp/auth_callback',
    'https://claude.ai:8443/api/mcp/auth_callback',
    'https://CLAUDE.AI/api/mcp/auth_callback',
    'http://claude.ai/api/mcp/auth_callback',
    'https://claude.ai/api/mcp/auth_callback?x=1',
    'https://evil.claude.ai/api/mcp/auth_callback',
    'https://claude.ai.evil.example/api/mcp/auth_callback',
    'https://claude.ai/api/mcp/x/../auth_callback',
    'https://claude.ai/api/mcp/auth_callback%2F..%2F..%2Fevil',
  ])('%s is refused with a page', async (redirectUri) => {
    const res = await alice.browser.get(authorizeUrl(app, authorizeParams(claudeAi, alice, newPkce(), { redirect_uri: redirectUri })));
    expectErrorPage(res);
  });
});

describe('before the person has acted, an error is a page with a labelled link back, never a redirect (RFC 9700 §4.11.2)', () => {
  const errorCases = (): [string, Record<string, string | string[] | undefined>, string][] => [
    ['code_challenge missing (PKCE is required)', { code_challenge: undefined }, 'invalid_request'],
    ['code_challenge_method=plain (downgrade)', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['code_challenge_method missing (would default to plain)', { code_challenge_method: undefined }, 'invalid_request'],
    ['a code_challenge that is not a SHA-256 hash', { code_challenge: 'abc' }, 'invalid_request'],
    ['response_type=token (implicit)', { response_type: 'token' }, 'unsupported_response_type'],
    ['response_type missing', { response_type: undefined }, 'invalid_request'],
    ['response_mode=fragment', { response_mode: 'fragment' }, 'invalid_request'],
    ['a scope that breaks the RFC 6749 §3.3 grammar (a quote)', { scope: 'wiki:read "admin"' }, 'invalid_scope'],
    ['a scope with two spaces in a row', { scope: 'wiki:read  wiki:write' }, 'invalid_scope'],
    ['a resource that is not a wiki', { resource: 'https://evil.example/mcp' }, 'invalid_target'],
    ['the issuer as resource', { resource: `http://localhost:${app.port}/mcp` }, 'invalid_target'],
    ['a wiki that does not exist', { resource: `http://nosuchwiki.localhost:${app.port}/mcp` }, 'invalid_target'],
    ['a wiki URL that is not its MCP endpoint', { resource: `http://alice.localhost:${app.port}/pages` }, 'invalid_target'],
    ['scope given twice', { scope: ['wiki:read', 'wiki:write'] }, 'invalid_request'],
    ['code_challenge given twice', { code_challenge: [newPkce().challenge, newPkce().challenge] }, 'invalid_request'],
    ['resource given twice', { resource: [alice.mcpUrl, bob.mcpUrl] }, 'invalid_request'],
    ['state given twice', { state: ['one', 'two'] }, 'invalid_request'],
  ];

  it('for a Claude Code-style loopback client on another port, and a Claude.ai-style client alike', async () => {
    const problems: string[] = [];
    for (const [client, redirectUri] of [
      [claudeCode, 'http://127.0.0.1:41234/callback'],
      [claudeAi, claudeAi.redirectUri],
    ] as const) {
      for (const [name, overrides, error] of errorCases()) {
        const state = `st-${Math.random().toString(36).slice(2)}`;
        const res = await alice.browser.get(authorizeUrl(app, authorizeParams(client, alice, newPkce(), { redirect_uri: redirectUri, state, ...overrides })));
        try {
          expectErrorPage(res);
          expect(res.headers['cache-control']).toMatch(/no-store/);
          // The wire code is named for the developer; the link back is to the app's origin only, clearly labelled.
          expect(pageText(res.body)).toContain(error);
          const origin = new URL(redirectUri).origin;
          expect(res.body).toContain(`href="${origin}/"`);
          expect(pageText(res.body)).toContain(`go to ${new URL(redirectUri).host}`);
          // No automatic way there: no refresh, no script, and the state is not handed on.
          expect(res.body).not.toMatch(/http-equiv|<script/i);
          expect(res.body).not.toContain(state);
        } catch (err) {
          problems.push(`${client === claudeCode ? 'loopback' : 'https'} / ${name}: ${(err as Error).message.split('\n')[0]} (${res.status} ${res.headers.location ?? ''})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('without state, still a page and no Location', async () => {
    const res = await alice.browser.get(authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce(), { state: undefined, scope: 'no\\pe' })));
    expectErrorPage(res);
    expect(pageText(res.body)).toContain('invalid_scope');
  });

  it('no request is stored for an invalid authorization request', async () => {
    const count = () => app.sql().count('authorization_requests');
    const before = await count();
    await alice.browser.get(authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce(), { code_challenge_method: 'plain' })));
    await alice.browser.get(authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce(), { redirect_uri: 'https://evil.example' })));
    expect(await count()).toBe(before);
  });
});

describe('the consent page', () => {
  it('is not shown to someone who is not signed in: 303 to /auth/login with return_to = the consent page (request id only)', async () => {
    const anonymous = browser(app);
    const params = authorizeParams(claudeCode, alice, newPkce());
    const start = await anonymous.get(authorizeUrl(app, params));
    expect(start.status).toBe(303);
    const consentPath = location(start);
    const consent = await anonymous.get(consentPath);
    expect(consent.status).toBe(303);
    const login = new URL(location(consent), app.url);
    expect(login.origin).toBe(app.url);
    expect(login.pathname).toBe('/auth/login');
    const returnTo = login.searchParams.get('return_to');
    expect(returnTo).toBe(consentPath);
    // The request stays on the server: only its id travels, not the client's parameters.
    const back = new URL(returnTo!, app.url);
    expect([...back.searchParams.keys()]).toEqual(['request']);
    for (const value of [params.code_challenge, params.state, claudeCode.clientId, 'redirect_uri']) expect(returnTo).not.toContain(String(value));
    // The login page carries it in its form.
    const page = await anonymous.get(location(consent));
    expect(fieldValue(page.body, 'return_to')).toBe(consentPath);
  });

  it('after Bluesky sign-in (real PDS), the person lands back on the same pending request', async () => {
    const account = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'sec' });
    // They already have an account here (signed up earlier), just not in this browser.
    await app.ctx.store.repos.users.insertWithFirstWiki({ did: account.did, handle: account.handle, displayName: null, username: 'carol' });
    const b = browser(app);
    const params = authorizeParams(claudeCode, { mcpUrl: `http://carol.localhost:${app.port}/mcp` }, newPkce());
    const consentPath = location(await b.get(authorizeUrl(app, params)));
    const { handoff } = await signIn(app, b, account, { returnTo: consentPath });
    expect(location(handoff)).toBe(consentPath);
    const consent = await b.get(consentPath);
    expect(consent.status).toBe(200);
    const done = await submitConsent(b, consent, 'allow');
    const back = new URL(location(done));
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe(params.state);
  });

  it('cannot be framed (frame-ancestors none, X-Frame-Options DENY) and is not cached', async () => {
    const page = await openConsent(alice.browser, authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce())));
    expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toMatch(/no-store/);
  });

  it('names the client, says "unverified" for a self-registered one, and shows the redirect host, the wiki, the scopes, Allow and Deny', async () => {
    const page = await openConsent(alice.browser, authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce(), { redirect_uri: 'http://127.0.0.1:40404/callback' })));
    const text = pageText(page.body);
    expect(text).toContain('Claude Code (wiki)');
    expect(text).toMatch(/unverified/i);
    expect(text).toContain('127.0.0.1:40404');
    expect(text).toContain('alice');
    expect(text).toContain(alice.mcpUrl);
    expect(text).toContain('Read the pages of your wiki');
    expect(text).toContain('Create and change pages of your wiki');
    expect(page.body).toMatch(/<button[^>]*value="allow"[^>]*>\s*Allow\s*<\/button>/);
    expect(page.body).toMatch(/<button[^>]*value="deny"[^>]*>\s*Deny\s*<\/button>/);
  });

  it('shows only the scopes asked for', async () => {
    const page = await openConsent(alice.browser, authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce(), { scope: 'wiki:read' })));
    const text = pageText(page.body);
    expect(text).toContain('Read the pages of your wiki');
    expect(text).not.toContain('Create and change pages of your wiki');
  });

  it("escapes the client's self-chosen name (no markup injection)", async () => {
    const evil = await registerClient(app, {
      client_name: '<img src=x onerror=alert(1)><b>Totally Claude</b>',
      redirect_uris: ['http://localhost:1/cb'],
      token_endpoint_auth_method: 'none',
    });
    const page = await openConsent(alice.browser, authorizeUrl(app, authorizeParams(evil, alice, newPkce())));
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).not.toContain('<b>Totally');
    expect(pageText(page.body)).toContain('<img src=x onerror=alert(1)><b>Totally Claude</b>');
  });

  it('Allow → the code, state and iss go to the redirect URI', async () => {
    const params = authorizeParams(claudeAi, alice, newPkce());
    const page = await openConsent(alice.browser, authorizeUrl(app, params));
    const done = await submitConsent(alice.browser, page, 'allow');
    expect(done.status).toBe(303);
    const back = new URL(location(done));
    expect(`${back.origin}${back.pathname}`).toBe(claudeAi.redirectUri);
    expect(back.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(back.searchParams.get('state')).toBe(params.state);
    expect(back.searchParams.get('iss')).toBe(app.url);
  });

  it('Deny → access_denied with state and iss, no code', async () => {
    const params = authorizeParams(claudeCode, alice, newPkce());
    const page = await openConsent(alice.browser, authorizeUrl(app, params));
    const before = await codeCount();
    const done = await submitConsent(alice.browser, page, 'deny');
    expectErrorRedirect(done, claudeCode.redirectUri, 'access_denied', String(params.state));
    expect(await codeCount()).toBe(before);
  });

  it('a decision is single-use: posting the same form again → the "expired" page, no second code', async () => {
    const page = await openConsent(alice.browser, authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce())));
    expect((await submitConsent(alice.browser, page, 'allow')).status).toBe(303);
    const before = await codeCount();
    for (const decision of ['allow', 'deny'] as const) {
      const again = await submitConsent(alice.browser, page, decision);
      expectErrorPage(again);
      expect(pageText(again.body)).toMatch(/expired|already used/i);
    }
    expect(await codeCount()).toBe(before);
    expectErrorPage(await alice.browser.get(`${OAUTH_PATHS.consent}?request=${encodeURIComponent(fieldValue(page.body, 'request')!)}`));
  });

  it('a pending request older than its lifetime → the "expired" page, and no code', async () => {
    const page = await openConsent(alice.browser, authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce())));
    await app.sql().run('UPDATE authorization_requests SET expires_at = ? WHERE id_hash = ?', Math.floor(Date.now() / 1000) - 1, sha256Hex(fieldValue(page.body, 'request')!));
    const before = await codeCount();
    expectErrorPage(await submitConsent(alice.browser, page, 'allow'));
    expect(await codeCount()).toBe(before);
  });

  it('an unknown or missing request id → the "expired" page', async () => {
    expectErrorPage(await alice.browser.get(`${OAUTH_PATHS.consent}?request=nope`));
    expectErrorPage(await alice.browser.get(OAUTH_PATHS.consent));
  });
});

describe('CSRF on the consent form (RFC 9700 §4.7)', () => {
  async function pending(): Promise<{ page: HttpResponse; b: Browser }> {
    return { page: await openConsent(alice.browser, authorizeUrl(app, authorizeParams(claudeCode, alice, newPkce()))), b: alice.browser };
  }

  it('a POST without the CSRF token → 403, no redirect, no code; the request is still pending', async () => {
    const { page, b } = await pending();
    const before = await codeCount();
    const res = await b.post(OAUTH_PATHS.consent, { request: fieldValue(page.body, 'request')!, decision: 'allow' });
    expectErrorPage(res, 403);
    expect(await codeCount()).toBe(before);
    const consentUrl = `${OAUTH_PATHS.consent}?request=${encodeURIComponent(fieldValue(page.body, 'request')!)}`;
    expect((await b.get(consentUrl)).status).toBe(200);
  });

  it('a wrong token, a token without its cookie, and a cross-site post are refused alike', async () => {
    const { page, b } = await pending();
    const request = fieldValue(page.body, 'request')!;
    const before = await codeCount();
    expectErrorPage(await b.post(OAUTH_PATHS.consent, { _csrf: 'forged', request, decision: 'allow' }), 403);
    // The attacker's own browser: the victim's form token, but not the victim's cookies.
    const attacker = browser(app, new Map([...b.jar].filter(([name]) => name === 'session')));
    expectErrorPage(await attacker.post(OAUTH_PATHS.consent, { _csrf: fieldValue(page.body, '_csrf')!, request, decision: 'allow' }), 403);
    expectErrorPage(
      await b.post(OAUTH_PATHS.consent, { _csrf: fieldValue(page.body, '_csrf')!, request, decision: 'allow' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }),
      403,
    );
    expect(await codeCount()).toBe(before);
  });

  it("another signed-in person cannot use someone else's consent form", async () => {
    const { page } = await pending();
    const res = await bob.browser.post(OAUTH_PATHS.consent, { _csrf: fieldValue(page.body, '_csrf')!, request: fieldValue(page.body, 'request')!, decision: 'allow' });
    expect(res.status).toBe(403);
    expect(res.headers.location).toBeUndefined();
  });
});

describe('a wiki that is not yours', () => {
  it('shows a clear page with Deny only, and Deny → access_denied with state and iss', async () => {
    const params = authorizeParams(claudeCode, bob, newPkce());
    const page = await openConsent(alice.browser, authorizeUrl(app, params));
    const text = pageText(page.body);
    expect(text).toContain('This wiki is not yours');
    expect(text).toContain('bob');
    expect(page.body).not.toMatch(/value="allow"/);
    expect(page.body).toMatch(/<button[^>]*value="deny"[^>]*>\s*Deny\s*<\/button>/);
    const done = await submitConsent(alice.browser, page, 'deny');
    expectErrorRedirect(done, claudeCode.redirectUri, 'access_denied', String(params.state));
  });

  it('a forged "allow" for it → access_denied, no code', async () => {
    const params = authorizeParams(claudeCode, bob, newPkce());
    const page = await openConsent(alice.browser, authorizeUrl(app, params));
    const before = await codeCount();
    const done = await submitConsent(alice.browser, page, 'allow');
    expectErrorRedirect(done, claudeCode.redirectUri, 'access_denied', String(params.state));
    expect(await codeCount()).toBe(before);
  });

  it('a posted wiki cannot override the wiki the request named', async () => {
    const params = authorizeParams(claudeCode, alice, newPkce());
    const page = await openConsent(alice.browser, authorizeUrl(app, params));
    const done = await submitConsent(alice.browser, page, 'allow', { wiki: 'bob' });
    const back = new URL(location(done));
    const code = back.searchParams.get('code');
    expect(code).toBeTruthy();
    const row = await app.ctx.store.repos.codes.findByValue(code!);
    expect(row).toMatchObject({ wikiSlug: 'alice', resource: alice.mcpUrl, userDid: alice.did });
  });

  it("when the client named no wiki, choosing someone else's → access_denied, no code", async () => {
    const params = authorizeParams(claudeCode, alice, newPkce(), { resource: undefined });
    const page = await openConsent(alice.browser, authorizeUrl(app, params));
    expect(pageText(page.body)).toContain('Which wiki?');
    const before = await codeCount();
    const done = await submitConsent(alice.browser, page, 'allow', { wiki: 'bob' });
    expectErrorRedirect(done, claudeCode.redirectUri, 'access_denied', String(params.state));
    expect(await codeCount()).toBe(before);
  });
});

describe('one spelling of the resource at /authorize and /token (RFC 8707 §2, issue 10 item 6)', () => {
  it('an odd spelling at both ends (scheme and host case, trailing slash) gives a token for that wiki', async () => {
    const odd = `HTTP://Alice.LocalHost:${app.port}/mcp/`;
    const issued = await obtainCode(claudeCode, alice, app, { resource: odd });
    expect(await app.ctx.store.repos.codes.findByValue(issued.code)).toMatchObject({ wikiSlug: 'alice', resource: alice.mcpUrl });
    const tokens = await exchangeCode(app, claudeCode, issued, { resource: `http://ALICE.localhost:${app.port}/mcp/` });
    expect(decodeJwt(tokens.access_token).payload.aud).toBe(alice.mcpUrl);
  });

  it("another wiki's resource at /token is still invalid_target", async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    const res = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
      redirect_uri: issued.redirectUri,
      resource: `HTTP://BOB.localhost:${app.port}/mcp/`,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
  });
});

describe('open redirects through return_to on the login page (RFC 9700 §4.11)', () => {
  const attempts = (): string[] => [
    'https://evil.example/',
    '//evil.example/',
    '///evil.example/',
    '/\\evil.example',
    '\\\\evil.example',
    '/..//evil.example',
    '/%2F%2Fevil.example',
    'https:evil.example',
    'javascript:alert(1)',
    `http://localhost:${app.port}@evil.example/`,
    `http://localhost:${app.port}.evil.example/`,
    `http://evil.example/?http://localhost:${app.port}/`,
    ' https://evil.example',
    '/\t/evil.example',
  ];

  it('signed in: never redirected off our own origin', async () => {
    const problems: string[] = [];
    for (const value of attempts()) {
      const res = await alice.browser.get(`/auth/login?return_to=${encodeURIComponent(value)}`);
      const target = new URL(location(res), app.url);
      if (target.origin !== app.url) problems.push(`${value} → ${target.href}`);
    }
    expect(problems).toEqual([]);
  });

  it('signed out: the login form never carries a foreign return_to', async () => {
    const anonymous = browser(app);
    for (const value of attempts()) {
      const page = await anonymous.get(`/auth/login?return_to=${encodeURIComponent(value)}`);
      expect(page.status).toBe(200);
      const kept = fieldValue(page.body, 'return_to');
      // Kept only as a path on our own origin (`/%2F%2Fevil.example` is just a 404 here).
      if (kept !== undefined) {
        expect(kept, value).toMatch(/^\/(?![/\\])/);
        expect(new URL(kept, app.url).origin, value).toBe(app.url);
      }
    }
  });

  it('the consent page itself is a valid return_to', async () => {
    const res = await alice.browser.get(`/auth/login?return_to=${encodeURIComponent('/auth/oauth/consent?request=abc')}`);
    expect(location(res)).toBe('/auth/oauth/consent?request=abc');
  });
});
