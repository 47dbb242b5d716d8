// The interop harness: the real app (conformance helpers), a local https stand-in for claude.ai and
// chatgpt.com serving the fixtures of test/fixtures/clients/ (only the origin replaced), the app's
// document resolver and JWKS cache trusting the stand-in's test certificate, and a ChatGPT-style
// RSA key pair that signs real RFC 7523 client assertions (jose).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createClientJwks } from '../../src/oauth/clients/client-jwks.ts';
import { createClientResolver } from '../../src/oauth/clients/resolve-client.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { CLIENT_ASSERTION_TYPE, createClientAssertionVerifier } from '../../src/oauth/token/client-assertion.ts';
import type { TestApp } from '../support/app.ts';
import { httpRequest } from '../support/pds.ts';
import { createTestCertificate, json, startDocServer, type DocServer, type TestCertificate } from '../oauth/clients/https-stand-in.ts';
import { startConformanceApp } from '../conformance/support.ts';
import { type RegisteredClient, type TokenReply } from '../support/oauth-flow.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/clients');

export type Fixture = Record<string, unknown> & { redirect_uris: string[] };

export function readFixture(name: string): Fixture {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as Fixture;
}

export interface Harness {
  app: TestApp;
  standIn: DocServer;
  certificate: TestCertificate;
  close(): Promise<void>;
}

/** Starts the app and the stand-in, and points the app's resolver and JWKS cache at the stand-in's CA. */
export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const app = await startConformanceApp(env);
  const certificate = createTestCertificate();
  const standIn = await startDocServer(certificate);
  const fetchOptions = { allowPrivateAddresses: true, caCertificates: certificate.cert, timeoutMs: 5000, maxBytes: 64 * 1024 };
  app.ctx.clientResolver = createClientResolver({
    store: app.ctx.store,
    log: app.ctx.log,
    allowPrivateAddresses: true,
    caCertificates: certificate.cert,
    documentsEnabled: app.config.clientIdMetadataDocuments,
  });
  app.ctx.clientAssertions = createClientAssertionVerifier({ store: app.ctx.store, config: app.config, jwks: createClientJwks({ fetchOptions }) });
  return {
    app,
    standIn,
    certificate,
    async close() {
      await standIn.close();
      await app.close();
      certificate.remove();
    },
  };
}

/** Serves a *.cimd.json fixture at its own path on the stand-in (origin replaced); returns the document as served. */
export function serveDocument(h: Harness, name: string, edit: (doc: Fixture) => Fixture = (d) => d, pathPrefix = ''): Fixture {
  const original = readFixture(name);
  const clientIdPath = `${pathPrefix}${new URL(String(original.client_id)).pathname}`;
  const doc = edit({
    ...original,
    client_id: `${h.standIn.origin}${clientIdPath}`,
    ...(typeof original.jwks_uri === 'string' ? { jwks_uri: `${h.standIn.origin}${pathPrefix}${new URL(original.jwks_uri).pathname}` } : {}),
  });
  h.standIn.routes.set(clientIdPath, json(doc));
  return doc;
}

/** A metadata-document client as the conformance helpers know clients (its first redirect URI). */
export function documentClient(doc: Fixture, redirectUri = doc.redirect_uris[0]!): RegisteredClient {
  return { clientId: String(doc.client_id), clientSecret: undefined, redirectUri, authMethod: 'none' };
}

export interface SigningKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  alg: 'RS256' | 'ES256';
  kid: string;
}

export async function newSigningKey(alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = crypto.randomBytes(8).toString('hex');
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, alg, kid };
}

/** Publishes these keys as the stand-in's JWKS at `jwksPath`. */
export function serveJwks(h: Harness, jwksPath: string, keys: SigningKey[]): void {
  h.standIn.routes.set(jwksPath, json({ keys: keys.map((k) => k.publicJwk) }));
}

export interface AssertionOptions {
  aud?: string | string[];
  iss?: string;
  sub?: string;
  jti?: string | null;
  expiresIn?: number | null;
  iat?: number;
  kid?: string;
}

/** An RFC 7523 client assertion signed with `key` (claims overridable; null leaves a claim out). */
export async function signAssertion(app: TestApp, clientId: string, key: SigningKey, o: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: o.iss ?? clientId,
    sub: o.sub ?? clientId,
    aud: o.aud ?? `${app.url}${OAUTH_PATHS.token}`,
    iat: o.iat ?? now,
  };
  if (o.jti !== null) claims.jti = o.jti ?? crypto.randomUUID();
  if (o.expiresIn !== null) claims.exp = now + (o.expiresIn ?? 60);
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: o.kid ?? key.kid, typ: 'JWT' }).sign(key.privateKey);
}

/** POSTs a form to /token (or /revoke) authenticated by a client assertion. */
export async function postWithAssertion(app: TestApp, endpoint: string, assertion: string, form: Record<string, string>): Promise<TokenReply> {
  const res = await httpRequest(`http://127.0.0.1:${app.port}${endpoint}`, {
    method: 'POST',
    headers: { host: `localhost:${app.port}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion }).toString(),
  });
  let body: Record<string, unknown> = {};
  try {
    body = res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {};
  } catch {
    body = {};
  }
  return { status: res.status, headers: res.headers, body, raw: res.body };
}
