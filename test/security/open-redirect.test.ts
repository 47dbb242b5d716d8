// Issue 9 finding 3 — /authorize as an open redirector (RFC 9700 §4.11.2). Anyone can register a
// client by DCR with `https://evil.example/cb`; a broken request (`response_type=x`) then made the
// apex, and every wiki host through its /authorize fallback, 303 the visitor to evil.example. Now
// an error before the person's own Allow or Deny is a page (400, no Location) with a labelled link;
// only the person's click sends them back (Deny → access_denied, with state and iss).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../src/db/open.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { browser, location, pageText } from '../support/browser-flow.ts';
import type { TestApp } from '../support/app.ts';
import type { HttpResponse } from '../support/pds.ts';
import { startConformanceApp, wikiHost, wikiRequest } from '../conformance/support.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { authorizeParams, newPkce, openConsent, registerClient, submitConsent, type RegisteredClient } from '../support/oauth-flow.ts';

let app: TestApp;
let alice: Person;
let attacker: RegisteredClient;

beforeAll(async () => {
  app = await startConformanceApp();
  alice = await seedPerson(app, 'alice');
  attacker = await registerClient(app, {
    client_name: 'Totally legit',
    redirect_uris: ['https://evil.example/cb'],
    token_endpoint_auth_method: 'none',
  });
});

afterAll(async () => {
  await app?.close();
});

const broken = (): [string, Record<string, string | undefined>][] => [
  ['response_type=x', { response_type: 'x' }],
  ['a malformed scope (RFC 6749 §3.3)', { scope: 'ad"min' }],
  ['no code_challenge', { code_challenge: undefined }],
  ['plain PKCE', { code_challenge_method: 'plain' }],
  ['a resource that is not a wiki here', { resource: 'https://evil.example/mcp' }],
];

function query(overrides: Record<string, string | undefined>): string {
  const params = authorizeParams(attacker, alice, newPkce(), overrides);
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string') q.append(name, value);
  return q.toString();
}

function expectPageNotRedirect(res: HttpResponse): void {
  expect(res.status, `${res.status} ${res.headers.location ?? ''}`).toBe(400);
  expect(res.headers.location).toBeUndefined();
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.body).not.toMatch(/http-equiv=["']?refresh|<script/i);
  // The way back is a link the person chooses, labelled as leaving this site.
  expect(res.body).toContain('href="https://evil.example/"');
  expect(pageText(res.body)).toMatch(/Leave .* and go to evil\.example/);
}

describe('a DCR client registered with https://evil.example/cb cannot use /authorize to bounce people there', () => {
  it.each(broken())('%s, from the apex, signed in or not → a page, no Location', async (_name, overrides) => {
    for (const b of [alice.browser, browser(app)]) {
      expectPageNotRedirect(await b.get(`${OAUTH_PATHS.authorize}?${query(overrides)}`));
    }
  });

  it.each(broken())('%s, from a wiki host → only to the issuer, and there a page', async (_name, overrides) => {
    const q = query(overrides);
    const hop = await wikiRequest(app, wikiHost(app, 'alice'), `/authorize?${q}`);
    expect(hop.status).toBe(302);
    const next = new URL(location(hop));
    expect(next.origin).toBe(app.url);
    expect(next.pathname).toBe(OAUTH_PATHS.authorize);
    expectPageNotRedirect(await alice.browser.get(`${next.pathname}${next.search}`));
  });

  it('the same for a client ID metadata document that names https://evil.example/cb', async () => {
    const clientId = 'https://evil.example/client.json';
    const now = nowSeconds();
    // As if just fetched from evil.example (the cached copy the resolver serves while fresh).
    await app.ctx.store.repos.clients.upsertDocument(
      clientId,
      { redirect_uris: ['https://evil.example/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] },
      now,
      now + 3600,
    );
    const documentClient: RegisteredClient = { clientId, clientSecret: undefined, redirectUri: 'https://evil.example/cb', authMethod: 'none' };
    for (const [, overrides] of broken()) {
      const params = authorizeParams(documentClient, alice, newPkce(), overrides);
      const q = new URLSearchParams();
      for (const [name, value] of Object.entries(params)) if (typeof value === 'string') q.append(name, value);
      expectPageNotRedirect(await alice.browser.get(`${OAUTH_PATHS.authorize}?${q}`));
    }
  });

  it('a valid request still goes to consent, and only the person’s Deny sends them back, with state and iss', async () => {
    const params = authorizeParams(attacker, alice, newPkce());
    const q = new URLSearchParams(params as Record<string, string>).toString();
    const page = await openConsent(alice.browser, `${app.url}${OAUTH_PATHS.authorize}?${q}`);
    const done = await submitConsent(alice.browser, page, 'deny');
    expect(done.status).toBe(303);
    const back = new URL(location(done));
    expect(back.origin + back.pathname).toBe('https://evil.example/cb');
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(params.state);
    expect(back.searchParams.get('iss')).toBe(app.url);
  });
});
