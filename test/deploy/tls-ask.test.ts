// GET /internal/tls-ask — Caddy's on-demand TLS `ask`: a certificate only for the apex and for wikis
// that exist; only for the proxy itself; read-only.
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import type { AppContext } from '../../src/context.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/open.ts';
import { errorHandler } from '../../src/web/error-handler.ts';
import { mayIssueCertificate, TLS_ASK_PATH, tlsAskRoutes } from '../../src/wikis/tls-ask.route.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import type { Store } from '../../src/storage/store.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { seedWikis } from './support.ts';

describe('mayIssueCertificate (production: PUBLIC_URL https://wiki.example)', () => {
  const config = parseConfig({ PUBLIC_URL: 'https://wiki.example', PLATFORM_KEYS_FILE: '/k/p.json', ATPROTO_CLIENT_KEYS_FILE: '/k/a.json' });
  const lookups: string[] = [];
  // Two wikis in a database (created long ago, within the daily cap), read through a SQLite store
  // whose wiki lookups are recorded.
  const db = openDatabase(':memory:');
  migrate(db);
  db.prepare("INSERT INTO users (did, handle, display_name, username, created_at, last_login_at) VALUES ('did:plc:x', 'x.test', NULL, 'x', 0, 0)").run();
  for (const slug of ['alice', 'bob-2']) db.prepare("INSERT INTO wikis (slug, owner_did, created_at) VALUES (?, 'did:plc:x', 0)").run(slug);
  const sqlite = createSqliteStore(db);
  const wikis = sqlite.repos.wikis;
  const store: Store = {
    ...sqlite,
    repos: {
      ...sqlite.repos,
      wikis: {
        ...wikis,
        findBySlug(slug: string) {
          lookups.push(slug);
          return wikis.findBySlug(slug);
        },
      },
    },
  };
  const may = (domain: string) => mayIssueCertificate({ config, store }, domain);

  it('allows the apex and existing wikis, whatever the case, with or without the root dot', async () => {
    for (const domain of ['wiki.example', 'WIKI.EXAMPLE', 'wiki.example.', 'alice.wiki.example', 'Alice.Wiki.Example.', 'bob-2.wiki.example']) {
      expect(await may(domain), domain).toBe(true);
    }
  });

  it('refuses everything else', async () => {
    for (const domain of [
      '',
      'nobody.wiki.example',
      'www.wiki.example',
      'a.alice.wiki.example',
      'alice.wiki.example.evil.test',
      'evil-wiki.example',
      'alicewiki.example',
      'wiki.example:443',
      'alice.wiki.example:443',
      '*.wiki.example',
      '-alice.wiki.example',
      'alice..wiki.example',
      '127.0.0.1',
      'localhost',
      'alice.wiki.example/x',
      `${'a'.repeat(300)}.wiki.example`,
    ]) {
      expect(await may(domain), domain).toBe(false);
    }
  });

  it('looks a wiki up only for names of the form {slug}.{apex}', async () => {
    lookups.length = 0;
    await may('wiki.example');
    await may('evil.test');
    await may('a.b.wiki.example');
    expect(lookups).toEqual([]);
    await may('nobody.wiki.example');
    expect(lookups).toEqual(['nobody']);
  });
});

describe(`GET ${TLS_ASK_PATH}`, () => {
  let t: TestApp;
  let ctx: AppContext;
  beforeAll(async () => {
    // Development: the apex is localhost:8443 (a server name never carries the port).
    t = await startTestApp({ PUBLIC_URL: 'http://localhost:8443' }, { listen: false });
    ctx = t.ctx;
    await seedWikis(ctx);
  });
  afterAll(() => t?.close());

  /** As app.ts mounts it: `trust proxy` from TRUST_PROXY, the shared error handler. */
  function askApp(trustProxy = ctx.config.trustProxy): express.Express {
    const app = express();
    app.set('trust proxy', trustProxy);
    app.use(tlsAskRoutes(ctx));
    app.use(errorHandler(ctx.log));
    return app;
  }
  /** As Caddy asks: a plain GET to the app's own address, no X-Forwarded-*. */
  const ask = (domain: string, app = askApp()) => request(app).get(TLS_ASK_PATH).query({ domain }).set('Host', '127.0.0.1:3000');

  it('200 for the apex and for wikis that exist, never cached', async () => {
    for (const domain of ['localhost', 'alice.localhost', 'BOB.localhost.']) {
      const res = await ask(domain);
      expect(res.status, domain).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect((await ask('alice.localhost')).body).toEqual({ domain: 'alice.localhost' });
  });

  it('404 for unknown wikis and other names', async () => {
    for (const domain of ['nobody.localhost', 'www.localhost', 'x.alice.localhost', 'example.com', 'localhost:8443', 'alice.localhost:8443']) {
      const res = await ask(domain);
      expect(res.status, domain).toBe(404);
      expect(res.body).toMatchObject({ error: 'not_found' });
    }
  });

  it('400 without exactly one domain parameter', async () => {
    expect((await request(askApp()).get(TLS_ASK_PATH)).status).toBe(400);
    expect((await request(askApp()).get(`${TLS_ASK_PATH}?domain=localhost&domain=alice.localhost`)).status).toBe(400);
  });

  it('answers HEAD like GET', async () => {
    expect((await request(askApp()).head(TLS_ASK_PATH).query({ domain: 'alice.localhost' })).status).toBe(200);
    expect((await request(askApp()).head(TLS_ASK_PATH).query({ domain: 'nobody.localhost' })).status).toBe(404);
  });

  it('404 for a request that came through a proxy’s public side (it carries X-Forwarded-For)', async () => {
    const res = await ask('alice.localhost').set('X-Forwarded-For', '203.0.113.9');
    expect(res.status).toBe(404);
  });

  it('403 for a peer outside TRUST_PROXY', async () => {
    const res = await ask('alice.localhost', askApp('10.0.0.0/8'));
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'forbidden' });
  });

  it('writes nothing', async () => {
    const changes = () => (ctx.sqlite!.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    const before = changes();
    for (const domain of ['localhost', 'alice.localhost', 'nobody.localhost']) await ask(domain);
    expect(changes()).toBe(before);
  });
});
