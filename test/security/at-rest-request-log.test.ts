// Issue 9, finding 10: the consent page's `request=` id, with the person's session, approves a
// pending authorization, so it is a bearer value like codes and tokens and must not reach the
// logs (which operators ship to other systems). The real app, with its logger writing to memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app.ts';
import { redactUrl } from '../../src/web/request-log.ts';
import {
  authorize,
  authorizeQuery,
  pkcePair,
  registerClient,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  type BrowserSession,
  type HardeningApp,
} from '../hardening/support.ts';

let app: HardeningApp;
let browser: BrowserSession;
let clientId: string;
const lines: string[] = [];
let logged: ReturnType<typeof request>;

beforeAll(async () => {
  app = await startHardeningApp();
  const owner = await seedUser(app.ctx);
  browser = await signedInBrowser(app, owner);
  clientId = (await registerClient(app)).clientId;
  // The same app (createApp) on the same context, with a logger that keeps its lines.
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  logged = request(createApp({ ...app.ctx, log }));
});
afterAll(async () => {
  await app?.close();
});

describe('request logs never hold the consent request id', () => {
  it('GET /auth/oauth/consent?request=… is logged with the id cut out', async () => {
    const requestId = await authorize(app, browser, clientId, pkcePair(), browser.user.username);
    lines.length = 0;
    const page = await logged.get(`/auth/oauth/consent?request=${encodeURIComponent(requestId)}`).set('Cookie', browser.cookie);
    expect(page.status).toBe(200);
    const log = lines.join('\n');
    expect(log).toContain('/auth/oauth/consent?request=…');
    expect(log).not.toContain(requestId);
    expect(log).not.toContain(encodeURIComponent(requestId));
  });

  it('the sign-in redirect’s return_to, which carries the consent URL, is logged with the id cut out', async () => {
    lines.length = 0;
    // A person who is not signed in: /authorize → the consent page → sign-in with return_to.
    const res = await logged.get(`/auth/oauth/authorize?${authorizeQuery(clientId, browser.user.username, { scope: 'wiki:read', state: 'client-state' })}`);
    expect(res.status).toBe(303);
    const toLogin = await logged.get(String(res.headers.location));
    expect(toLogin.status).toBe(303);
    const loginUrl = String(toLogin.headers.location);
    const consentUrl = new URL(loginUrl, app.ctx.config.publicUrl).searchParams.get('return_to')!;
    const requestId = new URL(consentUrl, app.ctx.config.publicUrl).searchParams.get('request')!;
    expect(requestId).toBeTruthy();
    expect((await logged.get(loginUrl)).status).toBe(200);
    const log = lines.join('\n');
    expect(log).toContain('/auth/login?return_to=');
    expect(log).not.toContain(requestId);
    expect(log).not.toContain(encodeURIComponent(requestId));
  });

  it('a percent-encoded parameter name (which Express decodes to `request`) is cut out too', async () => {
    const requestId = await authorize(app, browser, clientId, pkcePair(), browser.user.username);
    lines.length = 0;
    await logged.get(`/auth/oauth/consent?req%75est=${encodeURIComponent(requestId)}`).set('Cookie', browser.cookie);
    expect(lines.join('\n')).not.toContain(requestId);
  });
});

describe('redactUrl', () => {
  it('cuts codes, tickets, states, tokens and request ids, keeps the rest', () => {
    expect(redactUrl('/cb?code=abc&state=xyz&iss=https%3A%2F%2Fpds')).toBe('/cb?code=…&state=…&iss=https%3A%2F%2Fpds');
    expect(redactUrl('/auth/oauth/consent?request=r1')).toBe('/auth/oauth/consent?request=…');
    expect(redactUrl('/x?Request=r1&other=1')).toBe('/x?Request=…&other=1');
    expect(redactUrl('/plain')).toBe('/plain');
    expect(redactUrl('/auth/login?return_to=%2Fauth%2Foauth%2Fconsent%3Frequest%3Dr1')).toBe(
      `/auth/login?return_to=${encodeURIComponent('/auth/oauth/consent?request=…')}`,
    );
  });
});
