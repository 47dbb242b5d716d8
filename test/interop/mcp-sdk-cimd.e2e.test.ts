// The real MCP SDK client (@modelcontextprotocol/sdk, what Claude Code is built on) identifying itself
// with Claude Code's published client ID metadata document (served by the https stand-in): it uses
// the URL as client_id without registering, the person approves, and whoami works. With
// CLIENT_ID_METADATA_DOCUMENTS=off the same client, unchanged, falls back to DCR (issue 10 item 9).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { fieldValue, location } from '../support/browser-flow.ts';
import { loopbackFetch } from '../support/loopback-fetch.ts';
import { MemoryOAuthProvider } from '../support/mcp-oauth-client.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { serveDocument, startHarness, type Harness } from './harness.ts';

/** A provider that, like Claude Code, names its metadata document URL. */
class DocumentProvider extends MemoryOAuthProvider {
  constructor(redirectUrl: string, metadata: OAuthClientMetadata, clientMetadataUrl: string) {
    super(redirectUrl, metadata, { clientMetadataUrl });
  }
}

async function connectAndApprove(h: Harness, person: Person, provider: MemoryOAuthProvider) {
  const transport = new StreamableHTTPClientTransport(new URL(person.mcpUrl), { authProvider: provider, fetch: loopbackFetch(h.app.port) });
  const client = new Client({ name: 'robot-auth-interop', version: '1.0.0' });
  await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  const authUrl = provider.authorizationUrl!;
  const start = await person.browser.get(authUrl.href);
  expect(start.status, start.body.slice(0, 300)).toBe(303);
  const consent = await person.browser.get(location(start));
  expect(consent.status, consent.body.slice(0, 300)).toBe(200);
  const done = await person.browser.post('/auth/oauth/consent', {
    _csrf: fieldValue(consent.body, '_csrf') ?? '',
    request: fieldValue(consent.body, 'request') ?? '',
    decision: 'allow',
  });
  expect(done.status).toBe(303);
  const back = new URL(location(done));
  await transport.finishAuth(back.searchParams.get('code')!);

  const again = new Client({ name: 'robot-auth-interop', version: '1.0.0' });
  await again.connect(new StreamableHTTPClientTransport(new URL(person.mcpUrl), { authProvider: provider, fetch: loopbackFetch(h.app.port) }));
  const result = await again.callTool({ name: 'whoami', arguments: {} });
  await again.close();
  return { authUrl, back, me: result.structuredContent as { did: string; wiki: string } };
}

describe.each([
  { documents: 'on', registers: false },
  { documents: 'off', registers: true },
])('CLIENT_ID_METADATA_DOCUMENTS=$documents', ({ documents, registers }) => {
  let h: Harness;
  let person: Person;
  beforeAll(async () => {
    h = await startHarness({ CLIENT_ID_METADATA_DOCUMENTS: documents });
    person = await seedPerson(h.app, `sdk${documents}`);
  });
  afterAll(async () => {
    await h?.close();
  });

  it(`the SDK client with Claude Code's document ${registers ? 'falls back to DCR' : 'connects without registering'}`, async () => {
    const doc = serveDocument(h, 'claude-code.cimd.json');
    const redirect = `http://localhost:${40000 + Math.floor(Math.random() * 20000)}/callback`;
    const provider = new DocumentProvider(
      redirect,
      { client_name: 'Claude Code', redirect_uris: [redirect], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' },
      String(doc.client_id),
    );
    const { authUrl, back, me } = await connectAndApprove(h, person, provider);
    const clientId = provider.clientInformation()?.client_id;
    if (registers) {
      expect(clientId).toMatch(/^rc_/);
      expect(h.standIn.hits.size).toBe(0);
    } else {
      expect(clientId).toBe(doc.client_id);
      expect(authUrl.searchParams.get('client_id')).toBe(doc.client_id);
      expect(h.app.ctx.sqlite!.db.prepare("SELECT count(*) AS n FROM oauth_clients WHERE kind = 'registered'").get()).toEqual({ n: 0 });
    }
    expect(back.origin + back.pathname).toBe(redirect);
    expect(me).toMatchObject({ did: person.did, wiki: person.username });
  });
});
