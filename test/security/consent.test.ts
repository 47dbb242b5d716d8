// Issue 9 finding 7 and issue 10 items 4 and 6 — the consent page says who is asking, truthfully,
// and never picks a wiki for the person.
// - A client ID metadata document proves only that the host of its URL published it: such a client
//   is "unverified" like a DCR client, with that host ("claude.ai") next to the name it gives itself.
//   An attacker's document that calls itself "Claude" shows the attacker's host.
// - When every redirect URI is a loopback one, the page warns in plain words (MCP SHOULD).
// - With no `resource` and several wikis, nothing is preselected; Allow without a choice is refused
//   server-side too, the request stays pending, and the chosen wiki is the token's audience.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../src/db/open.ts';
import type { ClientMetadata } from '../../src/oauth/clients/client.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';
import { location, pageText } from '../support/browser-flow.ts';
import type { TestApp } from '../support/app.ts';
import { decodeJwt, startConformanceApp } from '../conformance/support.ts';
import { seedPerson, seedWiki, type Person } from '../support/seed.ts';
import { authorizeParams, authorizeUrl, exchangeCode, newPkce, obtainCode, openConsent, registerClaudeCode, registerClient, submitConsent, type RegisteredClient } from '../support/oauth-flow.ts';

let app: TestApp;
let alice: Person;
let carol: Person;

/** A metadata-document client, as if its document had just been fetched from `clientId` (cached copy). */
async function documentClient(clientId: string, metadata: Partial<ClientMetadata> & { redirect_uris: string[] }): Promise<RegisteredClient> {
  const now = nowSeconds();
  await app.ctx.store.repos.clients.upsertDocument(
    clientId,
    { token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], ...metadata },
    now,
    now + 3600,
  );
  return { clientId, clientSecret: undefined, redirectUri: metadata.redirect_uris[0]!, authMethod: 'none' };
}

beforeAll(async () => {
  app = await startConformanceApp();
  [alice, carol] = [await seedPerson(app, 'alice'), await seedPerson(app, 'carol')];
  // Carol has three wikis.
  for (const slug of ['carol-notes', 'carol-work']) {
    await seedWiki(app.ctx, slug, carol.did);
  }
});

afterAll(async () => {
  await app?.close();
});

async function consentText(client: RegisteredClient): Promise<{ text: string; html: string }> {
  const page = await openConsent(alice.browser, authorizeUrl(app, authorizeParams(client, alice, newPkce())));
  return { text: pageText(page.body), html: page.body };
}

describe('who is asking (issue 9 finding 7, issue 10 item 4)', () => {
  it("Claude.ai's metadata document: the name it gives itself, from claude.ai, unverified", async () => {
    const claude = await documentClient('https://claude.ai/oauth/mcp-oauth-client-metadata', {
      client_name: 'Claude',
      client_uri: 'https://claude.ai',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    });
    const { text } = await consentText(claude);
    expect(text).toContain('Claude from claude.ai unverified');
    expect(text).toContain('published by claude.ai at https://claude.ai/oauth/mcp-oauth-client-metadata');
    expect(text).not.toMatch(/this computer \(localhost\)/);
  });

  it('a document on another host that calls itself "Claude" shows that host, not claude.ai', async () => {
    const fake = await documentClient('https://evil.example/claude.json', {
      client_name: 'Claude',
      client_uri: 'https://claude.ai',
      redirect_uris: ['https://evil.example/cb'],
    });
    const { text } = await consentText(fake);
    expect(text).toContain('Claude from evil.example unverified');
    expect(text).not.toContain('from claude.ai');
  });

  it('a DCR client stays "unverified" and has no "from" host', async () => {
    const dcr = await registerClient(app, { client_name: 'Claude', redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'none' });
    const { text } = await consentText(dcr);
    expect(text).toMatch(/Claude unverified wants to use your wiki/);
    expect(text).toContain('The app named itself');
  });

  it('every redirect URI on loopback → the warning in plain words, for DCR and documents alike', async () => {
    const claudeCode = await registerClaudeCode(app);
    expect((await consentText(claudeCode)).text).toContain('This app will receive the authorization on this computer (localhost)');
    const cli = await documentClient('https://claude.ai/oauth/claude-code-client-metadata', {
      client_name: 'Claude Code',
      redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
    });
    const { text } = await consentText(cli);
    expect(text).toContain('Claude Code from claude.ai unverified');
    expect(text).toContain('This app will receive the authorization on this computer (localhost)');
  });

  it('one non-loopback redirect URI among them → no loopback warning', async () => {
    const mixed = await registerClient(app, {
      client_name: 'Mixed',
      redirect_uris: ['http://127.0.0.1:9/cb', 'https://app.example/cb'],
      token_endpoint_auth_method: 'none',
    });
    expect((await consentText(mixed)).text).not.toContain('on this computer (localhost)');
  });
});

describe('the account page lists connected apps by the same rule as the consent page (issue 9 finding 7)', () => {
  it('a metadata-document app is "unverified" and shows the host of its client_id; a DCR app is unverified with no host', async () => {
    const dave = await seedPerson(app, 'dave');
    // An attacker's document calling itself "Claude": the list must not make it look like claude.ai's.
    const fake = await documentClient('https://evil.example/connected-claude.json', {
      client_name: 'Claude',
      redirect_uris: ['https://evil.example/cb'],
    });
    const dcr = await registerClient(app, { client_name: 'Notes helper', redirect_uris: ['https://notes.example/cb'], token_endpoint_auth_method: 'none' });
    for (const client of [fake, dcr]) await exchangeCode(app, client, await obtainCode(client, dave, app));
    const page = await dave.browser.get('/account');
    expect(page.status).toBe(200);
    const items = [...page.body.matchAll(/<li class="grant">([\s\S]*?)<\/li>/g)].map((m) => pageText(m[1]!));
    expect(items).toHaveLength(2);
    expect(items.find((t) => t.startsWith('Claude'))).toMatch(/^Claude from evil\.example unverified · wiki dave/);
    expect(items.find((t) => t.startsWith('Notes helper'))).toMatch(/^Notes helper unverified · wiki dave/);
  });
});

describe('no resource, several wikis: the person chooses (issue 10 item 6)', () => {
  const checkedRadios = (html: string) => html.match(/<input[^>]*type="radio"[^>]*\bchecked\b[^>]*>/g) ?? [];

  it('nothing is preselected, every radio is required, and Deny needs no choice', async () => {
    const client = await registerClaudeCode(app);
    const page = await openConsent(carol.browser, authorizeUrl(app, authorizeParams(client, carol, newPkce(), { resource: undefined })));
    expect(pageText(page.body)).toContain('Which wiki?');
    for (const slug of ['carol', 'carol-notes', 'carol-work']) expect(page.body).toContain(`value="${slug}"`);
    expect(checkedRadios(page.body)).toEqual([]);
    expect(page.body.match(/<input[^>]*type="radio"[^>]*>/g)?.every((tag) => /\brequired\b/.test(tag))).toBe(true);
    expect(page.body).toMatch(/value="deny"[^>]*formnovalidate/);
  });

  it('Allow without a choice → the page again (400), no code, request still pending; then the chosen wiki is the token audience', async () => {
    const client = await registerClaudeCode(app);
    const pkce = newPkce();
    const params = authorizeParams(client, carol, pkce, { resource: undefined });
    const page = await openConsent(carol.browser, authorizeUrl(app, params));
    const codes = () => app.sql().count('authorization_codes');
    const before = await codes();
    const refused = await submitConsent(carol.browser, page, 'allow');
    expect(refused.status).toBe(400);
    expect(refused.headers.location).toBeUndefined();
    expect(pageText(refused.body)).toContain('Choose the wiki this app may use');
    expect(checkedRadios(refused.body)).toEqual([]);
    expect(await codes()).toBe(before);

    const done = await submitConsent(carol.browser, refused, 'allow', { wiki: 'carol-work' });
    expect(done.status).toBe(303);
    const code = new URL(location(done)).searchParams.get('code')!;
    const tokens = await exchangeCode(app, client, { code, state: String(params.state), pkce, redirectUri: client.redirectUri, redirect: new URL(location(done)) });
    expect(decodeJwt(tokens.access_token).payload.aud).toBe(wikiMcpUrl(app.config, 'carol-work'));
  });

  it('with exactly one wiki, that one is preselected (nothing to choose between)', async () => {
    const client = await registerClaudeCode(app);
    const page = await openConsent(alice.browser, authorizeUrl(app, authorizeParams(client, alice, newPkce(), { resource: undefined })));
    expect(checkedRadios(page.body)).toHaveLength(1);
    expect(checkedRadios(page.body)[0]).toContain('value="alice"');
  });
});
