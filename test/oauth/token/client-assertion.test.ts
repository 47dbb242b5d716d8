// RFC 7523 §2.2 / §3 private_key_jwt at /token and /revoke (src/oauth/token/client-assertion.ts):
// a ChatGPT-style document client whose JWKS is served by the local https stand-in, real signed
// assertions (jose), and every refusal: wrong aud, expired, no exp, exp too far, no jti, replayed
// jti (also concurrently), alg none / HS256, a key not in the JWKS, iss ≠ sub, a client that did
// not register private_key_jwt. /revoke answers 200 for an unknown token once the client is
// authenticated and 401 when it is not, so it is the cheapest probe of client authentication.
import crypto from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { purgeExpired } from '../../../src/db/purge.ts';
import { createClientJwks } from '../../../src/oauth/clients/client-jwks.ts';
import { OAUTH_PATHS } from '../../../src/oauth/paths.ts';
import { createClientAssertionVerifier } from '../../../src/oauth/token/client-assertion.ts';
import { httpRequest } from '../../support/pds.ts';
import {
  newSigningKey,
  postWithAssertion,
  serveDocument,
  serveJwks,
  signAssertion,
  startHarness,
  type AssertionOptions,
  type Harness,
  type SigningKey,
} from '../../interop/harness.ts';

let h: Harness;
let key: SigningKey;
let clientId: string;
let jwksPath: string;

beforeAll(async () => {
  h = await startHarness();
  key = await newSigningKey('RS256');
  const doc = serveDocument(h, 'chatgpt.cimd.json');
  clientId = String(doc.client_id);
  jwksPath = new URL(String(doc.jwks_uri)).pathname;
  serveJwks(h, jwksPath, [key]);
});
afterAll(async () => {
  await h?.close();
});

const probe = (assertion: string, extra: Record<string, string> = {}) =>
  postWithAssertion(h.app, OAUTH_PATHS.revoke, assertion, { token: 'not-a-token', ...extra });

const signed = (o: AssertionOptions = {}, k: SigningKey = key, id = clientId) => signAssertion(h.app, id, k, o);

async function expectRefused(assertion: string, why: RegExp, extra: Record<string, string> = {}) {
  const res = await probe(assertion, extra);
  expect(res.status, res.raw).toBe(401);
  expect(res.body.error).toBe('invalid_client');
  expect(String(res.body.error_description)).toMatch(why);
}

const unsignedJwt = (header: object, payload: object) =>
  `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;

describe('accepted', () => {
  it('a fresh assertion for the token endpoint, the issuer, or an array holding one of them', async () => {
    for (const aud of [`${h.app.url}${OAUTH_PATHS.token}`, h.app.url, ['https://elsewhere.example', h.app.url]]) {
      const res = await probe(await signed({ aud }));
      expect(res.status, res.raw).toBe(200);
    }
  });

  it('an ES256 key works as well as RS256', async () => {
    const ecKey = await newSigningKey('ES256');
    const doc = serveDocument(h, 'chatgpt.cimd.json', (d) => ({ ...d, token_endpoint_auth_signing_alg: 'ES256' }), '/es256');
    serveJwks(h, new URL(String(doc.jwks_uri)).pathname, [ecKey]);
    expect((await probe(await signed({}, ecKey, String(doc.client_id)))).status).toBe(200);
  });
});

describe('refused (401 invalid_client)', () => {
  it('aud naming another server', async () => {
    await expectRefused(await signed({ aud: 'https://other.example/token' }), /aud/);
  });

  it('expired, without exp, or expiring too far ahead', async () => {
    await expectRefused(await signed({ expiresIn: -120 }), /exp/);
    await expectRefused(await signed({ expiresIn: null }), /exp/);
    await expectRefused(await signed({ expiresIn: 3600 }), /too far ahead/);
  });

  it('issued in the future', async () => {
    await expectRefused(await signed({ iat: Math.floor(Date.now() / 1000) + 600 }), /iat|future/);
  });

  it('without jti, and a jti used twice', async () => {
    await expectRefused(await signed({ jti: null }), /jti/);
    const once = await signed({ jti: 'used-once' });
    expect((await probe(once)).status).toBe(200);
    await expectRefused(once, /already used/);
  });

  it('the same assertion sent concurrently succeeds exactly once', async () => {
    const assertion = await signed();
    const replies = await Promise.all(Array.from({ length: 8 }, () => probe(assertion)));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 401)).toHaveLength(7);
  });

  it('alg none and HS256 (even with the public key as the HMAC secret)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: clientId, sub: clientId, aud: `${h.app.url}${OAUTH_PATHS.token}`, exp: now + 60, jti: crypto.randomUUID() };
    await expectRefused(unsignedJwt({ alg: 'none', typ: 'JWT' }, claims), /none/);
    const hmacKey = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(hmacKey);
    await expectRefused(hs, /HS256/);
  });

  it('signed by a key that is not in the JWKS (also under a published kid)', async () => {
    const stranger = await newSigningKey('RS256');
    await expectRefused(await signed({}, stranger), /no applicable key|refused/);
    await expectRefused(await signed({ kid: key.kid }, stranger), /signature/);
  });

  it('iss ≠ sub, and a client_id parameter naming another client', async () => {
    await expectRefused(await signed({ iss: 'https://someone.example/client.json' }), /iss and sub/);
    await expectRefused(await signed(), /client_id in the body/, { client_id: 'rc_other' });
  });

  it('a client assertion together with client_secret or Basic', async () => {
    await expectRefused(await signed(), /both client_secret/, { client_secret: 'x' });
    const res = await httpRequest(`http://127.0.0.1:${h.app.port}${OAUTH_PATHS.revoke}`, {
      method: 'POST',
      headers: { host: `localhost:${h.app.port}`, 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      body: new URLSearchParams({ token: 'x', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await signed() }).toString(),
    });
    expect(res.status).toBe(401);
  });

  it('a wrong client_assertion_type', async () => {
    const res = await httpRequest(`http://127.0.0.1:${h.app.port}${OAUTH_PATHS.revoke}`, {
      method: 'POST',
      headers: { host: `localhost:${h.app.port}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'x', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer', client_assertion: await signed() }).toString(),
    });
    expect(res.status).toBe(401);
  });

  it('a DCR client without keys (registered none) trying private_key_jwt', async () => {
    const reg = await httpRequest(`http://127.0.0.1:${h.app.port}${OAUTH_PATHS.register}`, {
      method: 'POST',
      headers: { host: `localhost:${h.app.port}` },
      json: { client_name: 'keyless', redirect_uris: ['http://localhost/cb'], token_endpoint_auth_method: 'none' },
    });
    const dcrId = (JSON.parse(reg.body) as { client_id: string }).client_id;
    await expectRefused(await signed({}, key, dcrId), /registered token_endpoint_auth_method none/);
  });
});

describe('DCR clients with inline jwks', () => {
  it('authenticate with a key of their registered set, and not with another', async () => {
    const ecKey = await newSigningKey('ES256');
    const reg = await httpRequest(`http://127.0.0.1:${h.app.port}${OAUTH_PATHS.register}`, {
      method: 'POST',
      headers: { host: `localhost:${h.app.port}` },
      json: { client_name: 'keyed', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [ecKey.publicJwk] } },
    });
    expect(reg.status, reg.body).toBe(201);
    const dcrId = (JSON.parse(reg.body) as { client_id: string }).client_id;
    expect((await probe(await signed({}, ecKey, dcrId))).status).toBe(200);
    await expectRefused(await signed({}, await newSigningKey('ES256'), dcrId), /no applicable key|refused/);
  });
});

describe('the JWKS cache', () => {
  let rotating: SigningKey;
  beforeEach(async () => {
    rotating = await newSigningKey('RS256');
  });

  it('a rotated key (unknown kid) triggers one refetch, which is rate-limited per URL', async () => {
    const doc = serveDocument(h, 'chatgpt.cimd.json', (d) => d, `/rotate-${crypto.randomBytes(4).toString('hex')}`);
    const id = String(doc.client_id);
    const path = new URL(String(doc.jwks_uri)).pathname;
    serveJwks(h, path, [key]);
    // A fresh cache that refetches at most once per hour on unknown kids.
    const fetchOptions = { allowPrivateAddresses: true, caCertificates: h.certificate.cert, timeoutMs: 5000, maxBytes: 65536 };
    const strict = createClientAssertionVerifier({ store: h.app.ctx.store, config: h.app.config, jwks: createClientJwks({ fetchOptions, minRefetchSeconds: 3600 }) });
    const lenient = createClientAssertionVerifier({ store: h.app.ctx.store, config: h.app.config, jwks: createClientJwks({ fetchOptions, minRefetchSeconds: 0 }) });
    const saved = h.app.ctx.clientAssertions;
    try {
      h.app.ctx.clientAssertions = strict;
      expect((await probe(await signed({}, key, id))).status).toBe(200);
      serveJwks(h, path, [key, rotating]);
      // Within the refetch pause the new key is unknown: no second fetch.
      await expectRefused(await signed({}, rotating, id), /no applicable key|refused/);
      expect(h.standIn.hits.get(path)).toBe(1);

      h.app.ctx.clientAssertions = lenient;
      expect((await probe(await signed({}, key, id))).status).toBe(200);
      expect(h.standIn.hits.get(path)).toBe(2);
      const third = await newSigningKey('RS256');
      serveJwks(h, path, [third]);
      expect((await probe(await signed({}, third, id))).status).toBe(200);
      expect(h.standIn.hits.get(path)).toBe(3);
    } finally {
      h.app.ctx.clientAssertions = saved;
    }
  });

  it('a JWKS that cannot be fetched and was never fetched: refused with the reason', async () => {
    const doc = serveDocument(h, 'chatgpt.cimd.json', (d) => d, '/no-jwks');
    h.standIn.routes.delete(new URL(String(doc.jwks_uri)).pathname);
    await expectRefused(await signed({}, key, String(doc.client_id)), /could not be fetched.*HTTP 404/);
  });
});

describe('the replay table', () => {
  it('rows are kept until the assertion expires, then purged', async () => {
    const jti = `purge-${crypto.randomUUID()}`;
    expect((await probe(await signed({ jti }))).status).toBe(200);
    const count = () => (h.app.ctx.sqlite!.db.prepare('SELECT count(*) AS n FROM client_assertion_jtis WHERE client_id = ?').get(clientId) as { n: number }).n;
    const before = count();
    purgeExpired(h.app.ctx.sqlite!.db, { clientIdleSeconds: 10 ** 9 });
    expect(count()).toBe(before);
    h.app.ctx.sqlite!.db.prepare('UPDATE client_assertion_jtis SET expires_at = 0').run();
    expect(purgeExpired(h.app.ctx.sqlite!.db, { clientIdleSeconds: 10 ** 9 }).client_assertion_jtis).toBeGreaterThanOrEqual(1);
    expect(count()).toBe(0);
  });
});
