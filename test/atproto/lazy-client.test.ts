// The ATProto OAuth client is loaded on the first sign-in, not at start (src/atproto/client.ts;
// issue 11: ~52 MiB and ~0.4 s of start-up that MCP traffic never needs), and what used to fail at
// start because of it still fails at start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { generatePrivateJwk, writeKeyFile } from '../../src/config/keys.ts';
import { createContext } from '../../src/context.ts';
import { openDatabase } from '../../src/db/open.ts';
import { createLogger } from '../../src/web/log.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { browser, startLogin } from '../support/browser-flow.ts';
import { createPdsAccount, httpRequest } from '../support/pds.ts';
import { freePort } from '../support/app.ts';
import { startServer } from '../ops/server-process.ts';

describe('a development app against the local PDS', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('starts without the library, serves MCP-side traffic and the login page without it, and loads it once on the first sign-in', async () => {
    expect(app.ctx.atproto.loaded).toBe(false);
    for (const p of ['/healthz', '/.well-known/oauth-authorization-server', '/.well-known/jwks.json', '/auth/login', '/auth/verify']) {
      await httpRequest(`${app.url}${p}`);
    }
    expect(app.ctx.atproto.loaded).toBe(false);

    const account = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'lazy' });
    await startLogin(browser(app), account.handle);
    expect(app.ctx.atproto.loaded).toBe(true);
    // One client for the life of the process: concurrent and later callers share it.
    const [a, b] = await Promise.all([app.ctx.atproto.get(), app.ctx.atproto.get()]);
    expect(a).toBe(b);
  });
});

describe('node src/server.ts', () => {
  it('does not import @atproto/oauth-client-node at start, nor for MCP-side requests', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-lazy-server-'));
    try {
      const hook = new URL('./report-atproto-import.mjs', import.meta.url).pathname;
      const server = await startServer({ dataDir: dir, port: await freePort(), nodeArgs: ['--import', hook] });
      for (const p of ['/healthz', '/.well-known/oauth-authorization-server', '/.well-known/jwks.json', '/auth/login']) {
        expect((await httpRequest(`${server.url}${p}`)).status).toBe(200);
      }
      server.child.kill('SIGTERM');
      await server.exited;
      expect(server.stderr()).not.toContain('ATPROTO-LIBRARY-LOADED');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a production app whose ATProto client key is not an ES256 private key', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-lazy-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start (the library would have refused it at start; it is loaded later now)', async () => {
    const config = parseConfig({
      PUBLIC_URL: 'https://wiki.example',
      DATA_DIR: dir,
      PLATFORM_KEYS_FILE: path.join(dir, 'platform-keys.json'),
      ATPROTO_CLIENT_KEYS_FILE: path.join(dir, 'atproto-client-keys.json'),
      LOG_LEVEL: 'silent',
    });
    writeKeyFile(config.platformKeysFile, [await generatePrivateJwk('RS256', 'access'), await generatePrivateJwk('RS256', 'identity')]);
    writeKeyFile(config.atprotoClientKeysFile, [await generatePrivateJwk('RS256')]);
    const db = openDatabase(':memory:');
    try {
      await expect(createContext(config, { db, log: createLogger('silent') })).rejects.toThrow(/EC P-256 \(ES256\)/);
    } finally {
      db.close();
    }

    const good = await generatePrivateJwk('ES256');
    writeKeyFile(config.atprotoClientKeysFile, [{ ...good, d: Buffer.alloc(32, 0xff).toString('base64url') }]);
    const db2 = openDatabase(':memory:');
    try {
      await expect(createContext(config, { db: db2, log: createLogger('silent') })).rejects.toThrow(/not a usable private key/);
    } finally {
      db2.close();
    }
  });
});
