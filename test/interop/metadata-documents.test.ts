// Issue 10 item 9: when an app's client ID metadata document cannot be used, the person is told
// which of "could not be fetched" (network, DNS, TLS, an HTTP 403 from the host's edge, timeout) and
// "fetched but refused" (not JSON, client_id mismatch, unsafe content) happened, in plain words; and
// CLIENT_ID_METADATA_DOCUMENTS=off stops advertising documents and refuses URL client_ids, so Claude
// registers by DCR instead. (The operator's log lines: test/oauth/clients/resolve-client.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/env.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { pageText } from '../support/browser-flow.ts';
import { httpRequest } from '../support/pds.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { authorizeParams, authorizeUrl, newPkce, registerClaudeAi, tokenRequest } from '../support/oauth-flow.ts';
import { documentClient, serveDocument, startHarness, type Harness } from './harness.ts';
import { json } from '../oauth/clients/https-stand-in.ts';

describe('CLIENT_ID_METADATA_DOCUMENTS', () => {
  it('defaults to on, accepts on/off in any case, refuses anything else by name', () => {
    expect(parseConfig({}).clientIdMetadataDocuments).toBe(true);
    expect(parseConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'OFF' }).clientIdMetadataDocuments).toBe(false);
    expect(parseConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'on' }).clientIdMetadataDocuments).toBe(true);
    expect(() => parseConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'maybe' })).toThrow(ConfigError);
    expect(() => parseConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'maybe' })).toThrow(/CLIENT_ID_METADATA_DOCUMENTS: must be on or off/);
  });
});

describe('the page the person sees when a document cannot be used', () => {
  let h: Harness;
  let person: Person;
  beforeAll(async () => {
    h = await startHarness();
    person = await seedPerson(h.app, 'docfail');
  });
  afterAll(async () => {
    await h?.close();
  });

  const open = (clientId: string, redirectUri: string) =>
    person.browser.get(authorizeUrl(h.app, authorizeParams({ clientId, clientSecret: undefined, redirectUri, authMethod: 'none' }, person, newPkce())));

  it('could not be fetched (the host answered 403): says so, names the host and the status, blames no one', async () => {
    h.standIn.routes.set('/blocked/oauth/mcp-oauth-client-metadata', (_req, res) => res.writeHead(403, { 'Content-Type': 'text/html' }).end('<h1>Forbidden</h1>'));
    const res = await open(`${h.standIn.origin}/blocked/oauth/mcp-oauth-client-metadata`, 'https://claude.ai/api/mcp/auth_callback');
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    const text = pageText(res.body);
    expect(text).toContain("We could not fetch this app's description");
    expect(text).toContain('this server could not fetch it');
    expect(text).toContain('answered HTTP 403');
    expect(text).not.toContain('refused');
  });

  it('could not be fetched (nothing listens there): same story, without a status', async () => {
    const res = await open('https://127.0.0.1:1/oauth/mcp-oauth-client-metadata', 'https://claude.ai/api/mcp/auth_callback');
    expect(res.status).toBe(400);
    expect(pageText(res.body)).toContain('this server could not fetch it');
  });

  it('fetched but refused (client_id is not its URL): says it was read and is not acceptable, and why', async () => {
    h.standIn.routes.set('/mismatch/doc', json({ ...documentClientDoc(), client_id: 'https://claude.ai/oauth/mcp-oauth-client-metadata' }));
    const res = await open(`${h.standIn.origin}/mismatch/doc`, 'https://claude.ai/api/mcp/auth_callback');
    expect(res.status).toBe(400);
    const text = pageText(res.body);
    expect(text).toContain("This app's description was refused");
    expect(text).toContain('We read that description, but it is not acceptable here');
    expect(text).toContain('is not its own URL');
    expect(text).not.toContain('could not fetch');
  });

  it('fetched but refused (a secret inside the document)', async () => {
    const doc = serveDocument(h, 'claude-ai.cimd.json', (d) => ({ ...d, client_secret: 'leaked' }), '/secret');
    const res = await open(String(doc.client_id), 'https://claude.ai/api/mcp/auth_callback');
    expect(res.status).toBe(400);
    expect(pageText(res.body)).toContain('client secret');
  });
});

function documentClientDoc() {
  return {
    client_name: 'Claude',
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

describe('CLIENT_ID_METADATA_DOCUMENTS=off', () => {
  let h: Harness;
  let person: Person;
  beforeAll(async () => {
    h = await startHarness({ CLIENT_ID_METADATA_DOCUMENTS: 'off' });
    person = await seedPerson(h.app, 'docoff');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the AS metadata no longer advertises client ID metadata documents', async () => {
    const res = await httpRequest(`http://127.0.0.1:${h.app.port}/.well-known/oauth-authorization-server`, { headers: { host: `localhost:${h.app.port}` } });
    expect((JSON.parse(res.body) as Record<string, unknown>).client_id_metadata_document_supported).toBe(false);
  });

  it("a URL client_id gets a clear page at /authorize and 401 invalid_client at /token; the document is never fetched", async () => {
    const doc = serveDocument(h, 'claude-ai.cimd.json');
    const client = documentClient(doc);
    const res = await person.browser.get(authorizeUrl(h.app, authorizeParams(client, person, newPkce())));
    expect(res.status).toBe(400);
    expect(pageText(res.body)).toContain('which this server does not accept');
    const token = await tokenRequest(h.app, client, { grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43) });
    expect(token.status).toBe(401);
    expect(token.body.error).toBe('invalid_client');
    expect(h.standIn.connections).toBe(0);
  });

  it('Claude.ai then registers by DCR, which still works', async () => {
    const claude = await registerClaudeAi(h.app);
    expect(claude.clientId).toMatch(/^rc_/);
    expect(OAUTH_PATHS.register).toBeDefined();
  });
});
