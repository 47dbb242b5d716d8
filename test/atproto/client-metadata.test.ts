// The ATProto OAuth client's public face. Production (https PUBLIC_URL): a confidential web client
// whose client_id is its metadata URL, authenticating with private_key_jwt (ES256). Development:
// the loopback client. Only public keys are ever published.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig, type Config } from '../../src/config/env.ts';
import type { PrivateJwk } from '../../src/config/keys.ts';
import { writeTestKeyFiles } from '../support/key-files.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { createApp } from '../../src/app.ts';
import { openDatabase } from '../../src/db/open.ts';
import { createLogger } from '../../src/web/log.ts';
import { atprotoCallbackUrl } from '../../src/atproto/client.ts';
import { atprotoClientMetadata } from '../../src/atproto/client-library.ts';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-client-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function productionConfig(): Config {
  return parseConfig({
    PUBLIC_URL: 'https://wiki.example',
    DATA_DIR: dir,
    PLATFORM_KEYS_FILE: path.join(dir, 'platform-keys.json'),
    ATPROTO_CLIENT_KEYS_FILE: path.join(dir, 'atproto-client-keys.json'),
    LOG_LEVEL: 'silent',
  });
}

describe('production client metadata (atprotoClientMetadata)', () => {
  const config = parseConfig({ PUBLIC_URL: 'https://wiki.example', PLATFORM_KEYS_FILE: 'p.json', ATPROTO_CLIENT_KEYS_FILE: 'a.json' });
  const metadata = atprotoClientMetadata(config);

  it('names the metadata document itself as client_id', () => {
    expect(metadata.client_id).toBe('https://wiki.example/auth/client-metadata.json');
  });

  it('is a confidential web client using private_key_jwt with ES256 and DPoP-bound tokens', () => {
    expect(metadata).toMatchObject({
      application_type: 'web',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      dpop_bound_access_tokens: true,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
  });

  it('redirects to {PUBLIC_URL}/auth/callback, asks for the atproto scope only, and publishes its keys by URL', () => {
    expect(metadata.redirect_uris).toEqual(['https://wiki.example/auth/callback']);
    expect(atprotoCallbackUrl(config)).toBe('https://wiki.example/auth/callback');
    expect(metadata.scope).toBe('atproto');
    expect(metadata.jwks_uri).toBe('https://wiki.example/auth/jwks.json');
    // jwks and jwks_uri are mutually exclusive.
    expect(metadata).not.toHaveProperty('jwks');
  });

  it('shows the platform name and home page to the person consenting', () => {
    expect(metadata.client_name).toBe(config.platformName);
    expect(metadata.client_uri).toBe('https://wiki.example');
  });
});

describe('development client metadata: the ATProto loopback client', () => {
  const config = parseConfig({ PORT: '4567' });
  const metadata = atprotoClientMetadata(config);

  it('redirects to 127.0.0.1 on the app port (PDSes refuse localhost for loopback redirects)', () => {
    expect(atprotoCallbackUrl(config)).toBe('http://127.0.0.1:4567/auth/callback');
    expect(metadata.redirect_uris).toEqual(['http://127.0.0.1:4567/auth/callback']);
  });

  it('has a http://localhost client_id carrying its redirect URI and scope, and no client authentication', () => {
    const clientId = new URL(metadata.client_id!);
    expect(clientId.origin).toBe('http://localhost');
    expect(clientId.searchParams.get('redirect_uri')).toBe('http://127.0.0.1:4567/auth/callback');
    // `atproto` is the loopback client's default scope, so it may be left out of the client_id.
    expect(clientId.searchParams.get('scope') ?? 'atproto').toBe('atproto');
    expect(metadata.scope).toBe('atproto');
    expect(metadata.token_endpoint_auth_method).toBe('none');
  });
});

describe('a production app', () => {
  let ctx: AppContext;
  let app: Express;
  let atprotoKeys: PrivateJwk[];
  let platformKey: PrivateJwk;
  const warnings: string[] = [];

  beforeAll(async () => {
    const config = productionConfig();
    // Two client keys, as during a rotation: both must be published.
    const keys = await writeTestKeyFiles(config, { atprotoKeys: 2 });
    atprotoKeys = keys.atproto;
    platformKey = keys.platform[0]!;
    const warn = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void warnings.push(args.join(' ')));
    try {
      ctx = await createContext(config, { db: openDatabase(':memory:'), log: createLogger('silent') });
    } finally {
      warn.mockRestore();
    }
    app = createApp(ctx);
  });

  it('loads its key files without deprecation warnings and without altering them', async () => {
    expect(warnings).toEqual([]);
    expect(atprotoKeys.every((k) => k.use === 'sig')).toBe(true);
  });
  afterAll(() => {
    ctx?.close();
  });

  it('/auth/jwks.json exposes the public halves of the ATProto client keys only', async () => {
    const res = await request(app).get('/auth/jwks.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const { keys } = res.body as { keys: Record<string, unknown>[] };
    expect(keys.map((k) => k.kid).sort()).toEqual(atprotoKeys.map((k) => k.kid).sort());
    for (const key of keys) {
      for (const member of PRIVATE_MEMBERS) expect(key, member).not.toHaveProperty(member);
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256' });
      expect(key.x).toBeTruthy();
      expect(key.y).toBeTruthy();
      expect(key.key_ops ?? ['verify']).toEqual(['verify']);
    }
    // The platform (session/access-token) key is not the ATProto client's business.
    expect(JSON.stringify(res.body)).not.toContain(platformKey.kid);
    for (const secret of [...atprotoKeys, platformKey].map((k) => k.d)) {
      expect(JSON.stringify(res.body)).not.toContain(secret);
    }
  });

  it('/auth/client-metadata.json serves the production metadata, cacheable', async () => {
    const res = await request(app).get('/auth/client-metadata.json').expect(200);
    expect(res.body).toMatchObject({
      client_id: 'https://wiki.example/auth/client-metadata.json',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      dpop_bound_access_tokens: true,
      redirect_uris: ['https://wiki.example/auth/callback'],
      scope: 'atproto',
      jwks_uri: 'https://wiki.example/auth/jwks.json',
    });
    expect(res.headers['cache-control']).toMatch(/public/);
  });

  it('has no development hand-off route', async () => {
    await request(app).get('/auth/handoff?ticket=anything').expect(404);
  });

  it('sends HSTS and sets a Secure __Host- CSRF cookie on the login page', async () => {
    const res = await request(app).get('/auth/login').expect(200);
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+; includeSubDomains/);
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    const csrf = cookies.find((c) => c.startsWith('__Host-csrf='));
    expect(csrf).toBeDefined();
    expect(csrf).toMatch(/; Secure/);
    expect(csrf).toMatch(/; Path=\//);
    expect(csrf).not.toMatch(/; Domain=/i);
  });
});

describe('a development app', () => {
  it('publishes no client keys (the loopback client has none)', async () => {
    const devDir = fs.mkdtempSync(path.join(dir, 'dev-'));
    const ctx = await createContext(parseConfig({ DATA_DIR: devDir, LOG_LEVEL: 'silent' }), {
      db: openDatabase(':memory:'),
      log: createLogger('silent'),
    });
    try {
      const res = await request(createApp(ctx)).get('/auth/jwks.json').expect(200);
      expect(res.body).toEqual({ keys: [] });
    } finally {
      ctx.close();
    }
  });
});
