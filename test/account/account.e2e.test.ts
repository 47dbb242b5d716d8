// Issue 14 end to end, with the real app, the real local PDS and the real MCP SDK client: a person
// with two wikis connects a client to the second one and the page shows it under that wiki;
// deleting a wiki revokes exactly its grants; "sign out everywhere else" keeps the current session;
// deleting the account leaves no row that names the DID except the operator's record and the
// reserved name, and the person can sign up again. Every form needs its CSRF token.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createPdsAccount, type PdsAccount } from '../support/pds.ts';
import { loopbackFetch } from '../support/loopback-fetch.ts';
import { MemoryOAuthProvider } from '../support/mcp-oauth-client.ts';
import { browser, chooseUsername, fieldValue, location, pageText, signIn, signUpNew, type Browser } from '../support/browser-flow.ts';
import { cookieNames } from '../../src/accounts/cookies.ts';

const pdsUrl = inject('pdsUrl');
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ WIKIS_PER_USER: '2', RATE_LIMIT_LOGIN_PER_MINUTE: '1000' });
});
afterAll(async () => {
  await app?.close();
});

async function newPerson(prefix: string): Promise<{ account: PdsAccount; b: Browser; username: string }> {
  const account = await createPdsAccount(pdsUrl, { handlePrefix: prefix });
  const b = browser(app);
  await signUpNew(app, b, account);
  return { account, b, username: (await app.ctx.store.repos.users.findByDid(account.did))!.username };
}

/** Submits one of the account page's forms as the browser would: the page's CSRF token, then the fields. */
async function submit(b: Browser, action: string, fields: Record<string, string>) {
  const page = await b.get('/account');
  expect(page.status).toBe(200);
  return b.post(action, { _csrf: fieldValue(page.body, '_csrf') ?? '', ...fields });
}

function mcpUrlOf(slug: string) {
  return `http://${slug}.localhost:${app.port}/mcp`;
}

/** Connects an MCP SDK client (Claude Code-style: public, loopback redirect) to a wiki as `b`'s person. */
async function connectClaudeCode(b: Browser, slug: string): Promise<MemoryOAuthProvider> {
  const redirect = `http://localhost:${40000 + Math.floor(Math.random() * 20000)}/callback`;
  const provider = new MemoryOAuthProvider(redirect, {
    client_name: 'Claude Code',
    redirect_uris: [redirect],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrlOf(slug)), { authProvider: provider, fetch: loopbackFetch(app.port) });
  const client = new Client({ name: 'account-test', version: '1.0.0' });
  await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  const start = await b.get(provider.authorizationUrl!.href);
  expect(start.status, start.body.slice(0, 300)).toBe(303);
  const consent = await b.get(location(start));
  expect(consent.status).toBe(200);
  const done = await b.post('/auth/oauth/consent', {
    _csrf: fieldValue(consent.body, '_csrf') ?? '',
    request: fieldValue(consent.body, 'request') ?? '',
    decision: 'allow',
  });
  expect(done.status).toBe(303);
  await transport.finishAuth(new URL(location(done)).searchParams.get('code')!);
  return provider;
}

async function whoamiStatus(provider: MemoryOAuthProvider, slug: string): Promise<number> {
  const res = await loopbackFetch(app.port)(mcpUrlOf(slug), {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      authorization: `Bearer ${provider.tokens()!.access_token}`,
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
  });
  return res.status;
}

/** The text of the account page's section for one wiki. */
function wikiSection(html: string, slug: string): string {
  const start = html.indexOf(`<section class="wiki" aria-labelledby="wiki-${slug}">`);
  expect(start, `no section for ${slug}`).toBeGreaterThan(-1);
  return pageText(html.slice(start, html.indexOf('</section>', start)));
}

describe('more wikis, and connecting a client to the second one', () => {
  it('creates a second wiki, connects Claude Code to it, and shows it under that wiki only; deleting it revokes exactly its grants', async () => {
    const { b, username, account } = await newPerson('acct');
    const second = `${username}-notes`;

    const created = await submit(b, '/account/wikis', { slug: second });
    expect(created.status, pageText(created.body).slice(0, 300)).toBe(303);
    expect(location(created)).toBe('/account?done=wiki-created');
    expect((await app.ctx.store.repos.wikis.listByOwner(account.did)).map((w) => w.slug)).toEqual([username, second]);

    const page = await b.get('/account');
    expect(wikiSection(page.body, second)).toContain(`claude mcp add --transport http ${second} ${mcpUrlOf(second)}`);
    expect(wikiSection(page.body, second)).toContain('No app is connected to this wiki yet.');

    const onSecond = await connectClaudeCode(b, second);
    const onFirst = await connectClaudeCode(b, username);
    const after = await b.get('/account');
    expect(wikiSection(after.body, second)).toContain('Claude Code, connected just now');
    expect(after.body).toContain(`aria-label="Apps connected to ${second}"`);
    expect(await whoamiStatus(onSecond, second)).toBe(200);
    expect(await whoamiStatus(onFirst, username)).toBe(200);

    // Deleting needs the typed slug: a wrong confirmation changes nothing.
    const refused = await submit(b, '/account/wikis/delete', { slug: second, confirm: username });
    expect(refused.status).toBe(400);
    expect(pageText(refused.body)).toContain(`type its name "${second}"`);
    expect(await app.ctx.store.repos.wikis.findBySlug(second)).toBeDefined();

    const grantsBefore = await app.ctx.store.repos.grants.listConnectedApps(account.did);
    expect(grantsBefore.map((g) => g.wikiSlug).sort()).toEqual([username, second].sort());
    const deleted = await submit(b, '/account/wikis/delete', { slug: second, confirm: second });
    expect(deleted.status).toBe(303);
    expect(location(deleted)).toBe('/account?done=wiki-deleted');
    expect(await app.ctx.store.repos.wikis.findBySlug(second)).toBeUndefined();
    // Exactly its grants: the client on the other wiki keeps working.
    expect((await app.ctx.store.repos.grants.listConnectedApps(account.did)).map((g) => g.wikiSlug)).toEqual([username]);
    // The wiki host is gone (404), and so is the grant its access token names.
    expect(await whoamiStatus(onSecond, second)).toBe(404);
    expect(await Promise.all(grantsBefore.filter((g) => g.wikiSlug === second).map((g) => app.ctx.store.repos.grants.findLive(g.id)))).toEqual([undefined]);
    expect(await whoamiStatus(onFirst, username)).toBe(200);
    // The operator's record, and the slug held for its owner only.
    const record = app.ctx.sqlite!.db.prepare('SELECT slug, owner_did, reason, grants_revoked FROM deleted_wikis WHERE slug = ?').get(second);
    expect(record).toEqual({ slug: second, owner_did: account.did, reason: 'owner', grants_revoked: 1 });
    const other = await newPerson('acctb');
    const taken = await submit(other.b, '/account/wikis', { slug: second });
    expect(taken.status).toBe(409);
    expect(pageText(taken.body)).toContain('is reserved until');
    // Its owner may take it back.
    expect((await submit(b, '/account/wikis', { slug: second })).status).toBe(303);
  });

  it('applies the username rules, uniqueness and WIKIS_PER_USER, and refuses a form without its CSRF token', async () => {
    const { b, username, account } = await newPerson('acctc');
    for (const [slug, status, text] of [
      ['ab', 400, 'A wiki name needs at least 3 characters'],
      ['Bad_Name!', 400, 'Use only lowercase letters'],
      ['www', 400, 'is reserved'],
      ['xn--abc', 400, 'reserved for DNS'],
      [username, 409, 'is already taken'],
    ] as const) {
      const res = await submit(b, '/account/wikis', { slug });
      expect(res.status, slug).toBe(status);
      expect(pageText(res.body), slug).toContain(text);
    }
    const noCsrf = await b.post('/account/wikis', { slug: `${username}-x` });
    expect(noCsrf.status).toBe(403);
    expect((await submit(b, '/account/wikis', { slug: `${username}-two` })).status).toBe(303);
    // WIKIS_PER_USER=2 here: the third is refused, and the page says so instead of offering the form.
    const third = await submit(b, '/account/wikis', { slug: `${username}-three` });
    expect(third.status).toBe(403);
    expect(pageText(third.body)).toContain('the most this service allows');
    expect(await app.ctx.store.repos.wikis.listByOwner(account.did)).toHaveLength(2);
  });
});

describe('browser sessions', () => {
  it('lists both browsers coarsely, signs out "this one" or "everywhere else", and keeps the current session alive', async () => {
    const { b: first, account } = await newPerson('sess');
    const second = browser(app);
    const third = browser(app);
    for (const other of [second, third]) {
      const { handoff } = await signIn(app, other, account);
      expect(location(handoff)).toBe('/account');
    }
    const page = await first.get('/account');
    const text = pageText(page.body);
    expect(text).toContain('this browser');
    expect(page.body.match(/class="session"/g)).toHaveLength(3);
    // Never the User-Agent string itself.
    const ua = app.ctx.sqlite!.db.prepare<[string], { user_agent: string | null }>('SELECT user_agent FROM sessions WHERE did = ? LIMIT 1').get(account.did)!.user_agent;
    if (ua) expect(page.body).not.toContain(ua);

    // "Sign out this one": the second browser's session, by its handle on the page.
    const handles = [...page.body.matchAll(/name="session" value="([0-9a-f]{32})"/g)].map((m) => m[1]!);
    expect(handles).toHaveLength(2);
    const secondId = app.ctx.sqlite!.db.prepare<[string], { id: string }>('SELECT id FROM sessions WHERE did = ? ORDER BY created_at, rowid LIMIT 1 OFFSET 1').get(account.did)!.id;
    const { sessionHandle } = await import('../../src/accounts/sessions.repo.ts');
    expect((await submit(first, '/account/sessions/revoke', { session: sessionHandle(secondId) })).status).toBe(303);
    expect((await second.get('/account')).status).toBe(303);
    expect((await third.get('/account')).status).toBe(200);

    // A handle of someone else's session does nothing.
    const stranger = await newPerson('sessx');
    const strangerPage = await stranger.b.get('/account');
    expect(strangerPage.status).toBe(200);
    const thirdId = app.ctx.sqlite!.db.prepare<[string], { id: string }>('SELECT id FROM sessions WHERE did = ? AND revoked_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT 1').get(account.did)!.id;
    await submit(stranger.b, '/account/sessions/revoke', { session: sessionHandle(thirdId) });
    expect((await third.get('/account')).status).toBe(200);

    // "Sign out everywhere else" keeps this one.
    const res = await submit(first, '/account/sessions/revoke-others', {});
    expect(res.status).toBe(303);
    expect(location(res)).toBe('/account?done=others-ended');
    expect((await first.get('/account')).status).toBe(200);
    const ended = await third.get('/account');
    expect(ended.status).toBe(303);
    expect(location(ended)).toMatch(/^\/auth\/login/);
    // The other browser gets no new identity token for the wikis either.
    const refresh = await third.get(`/auth/wiki-session?return_to=${encodeURIComponent(`http://${account.handle.split('.')[0]}.localhost:${app.port}/`)}`);
    expect(refresh.status).toBe(303);
    expect(location(refresh)).toMatch(/^\/auth\/login/);
  });
});

describe('deleting the account', () => {
  it('needs the username typed; then leaves no row naming the DID except the operator record and the reserved name, and allows signing up again', async () => {
    const { b, username, account } = await newPerson('bye');
    expect((await submit(b, '/account/wikis', { slug: `${username}-2` })).status).toBe(303);
    const provider = await connectClaudeCode(b, `${username}-2`);
    expect(await whoamiStatus(provider, `${username}-2`)).toBe(200);
    const onFirst = await connectClaudeCode(b, username);
    const grantIds = (await app.ctx.store.repos.grants.listConnectedApps(account.did)).map((g) => g.id);
    expect(grantIds).toHaveLength(2);
    const otherBrowser = browser(app);
    await signIn(app, otherBrowser, account);

    const wrong = await submit(b, '/account/delete', { confirm: 'someone-else' });
    expect(wrong.status).toBe(400);
    expect(await app.ctx.store.repos.users.findByDid(account.did)).toBeDefined();
    expect(app.ctx.sqlite!.db.prepare('SELECT count(*) AS n FROM atproto_sessions WHERE did = ?').get(account.did)).toEqual({ n: 1 });

    const res = await submit(b, '/account/delete', { confirm: username.toUpperCase() });
    expect(res.status).toBe(303);
    expect(location(res)).toBe('/?deleted=1');
    expect(res.headers['set-cookie']?.some((c) => c.startsWith(`${cookieNames(app.config).session}=;`))).toBe(true);
    const home = await b.get('/?deleted=1');
    expect(pageText(home.body)).toContain('Your account was deleted');

    // Every column of every table: only the operator's record and the reserved username name the DID.
    const tables = app.ctx.sqlite!.db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all();
    const naming: string[] = [];
    for (const { name } of tables) {
      const columns = app.ctx.sqlite!.db.prepare<[], { name: string }>(`PRAGMA table_info("${name}")`).all();
      for (const column of columns) {
        const n = app.ctx.sqlite!.db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM "${name}" WHERE CAST("${column.name}" AS TEXT) LIKE '%' || ? || '%'`).get(account.did)!.n;
        if (n > 0) naming.push(`${name}.${column.name}`);
      }
    }
    // The operator's record: deleted_users, deleted_wikis and the audit log (kept AUDIT_RETENTION_DAYS).
    expect(naming.sort()).toEqual(['audit_log.did', 'deleted_users.did', 'deleted_wikis.owner_did', 'reserved_names.held_for_did']);
    expect((await app.ctx.store.repos.audit.list({ did: account.did })).map((e) => e.event)).toContain('account_deleted');
    expect(app.ctx.sqlite!.db.prepare('SELECT count(*) AS n FROM users WHERE username = ?').get(username)).toEqual({ n: 0 });
    const reserved = app.ctx.sqlite!.db.prepare('SELECT name, reason FROM reserved_names ORDER BY name').all();
    expect(reserved).toEqual(expect.arrayContaining([{ name: username, reason: 'account_deleted' }, { name: `${username}-2`, reason: 'account_deleted' }]));
    expect(app.ctx.sqlite!.db.prepare('SELECT username, wikis, pds_revoked FROM deleted_users WHERE did = ?').get(account.did)).toEqual({
      username,
      wikis: `${username},${username}-2`,
      pds_revoked: 1,
    });

    // Grants, sessions and the ATProto session are gone.
    expect(await Promise.all(grantIds.map((id) => app.ctx.store.repos.grants.findLive(id)))).toEqual([undefined, undefined]);
    expect(await whoamiStatus(provider, `${username}-2`)).toBe(404);
    expect(await whoamiStatus(onFirst, username)).toBe(404);
    expect((await otherBrowser.get('/account')).status).toBe(303);
    await expect((await app.ctx.atproto.get()).restore(account.did)).rejects.toThrow();

    // The person may sign up again later, as a new user, and take their name back.
    const again = browser(app);
    const { handoff } = await signIn(app, again, account);
    expect(location(handoff)).toBe('/auth/signup');
    const { res: signedUp } = await chooseUsername(again, username);
    expect(signedUp.status, pageText(signedUp.body).slice(0, 300)).toBe(303);
    expect((await app.ctx.store.repos.users.findByDid(account.did))?.username).toBe(username);
  });
});
