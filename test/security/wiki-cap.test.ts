// Issue 9 finding 11, "the certificate authority's quota": in on-demand TLS mode each new wiki costs a
// certificate, and ~50 throwaway accounts used to spend Let's Encrypt's weekly quota for the domain.
// Now at most NEW_WIKIS_PER_DAY wikis are created per rolling day (src/wikis/new-wiki-cap.ts): sign-up
// past the cap is paused (503, nothing written), and the TLS ask approves no wiki created past it.
import express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignupTicketPayload } from '../../src/accounts/complete-sign-in.ts';
import { SIGNUP_TICKET_TTL_SECONDS } from '../../src/lifetimes.ts';
import { signUp } from '../../src/accounts/signup.ts';
import { createWiki } from '../../src/admin/wikis.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { errorHandler } from '../../src/web/error-handler.ts';
import { TLS_ASK_PATH, tlsAskRoutes } from '../../src/wikis/tls-ask.route.ts';
import { anonymousCsrf, countChanges, rowCounts, seedUser, startHardeningApp, type HardeningApp } from '../hardening/support.ts';

const CAP = 3;
const payload: SignupTicketPayload = { handle: 'late.test', displayName: null, returnTo: undefined };
let app: HardeningApp;
let seq = 0;
const newDid = () => `did:plc:wikicap${String(++seq).padStart(4, '0')}`.padEnd(32, 'x');

beforeAll(async () => {
  app = await startHardeningApp({ NEW_WIKIS_PER_DAY: String(CAP) });
});
afterAll(async () => {
  await app?.close();
});

/** Sign-up as the browser does it: a signup ticket (after the Bluesky sign-in) and the form. */
async function signUpOverHttp(username: string) {
  return (await signUpForm())(username);
}

/** The signed-in browser with its ticket, ready to send the form. */
async function signUpForm() {
  const csrf = await anonymousCsrf(app);
  const ticket = await app.ctx.store.repos.tickets.issue('signup', newDid(), payload, SIGNUP_TICKET_TTL_SECONDS);
  return (username: string) => app.http().post('/auth/signup').type('form').set('Accept', 'text/html').set('Cookie', `${csrf.cookie}; signup_ticket=${ticket}`).send({ _csrf: csrf.token, username });
}

/** Caddy's ask, as app.ts mounts it, from loopback. */
const ask = (domain: string) => {
  const askApp = express().set('trust proxy', 'loopback').use(tlsAskRoutes(app.ctx)).use(errorHandler(app.ctx.log));
  return request(askApp).get(TLS_ASK_PATH).query({ domain });
};

describe('the daily cap on new wikis', () => {
  it('sign-ups within the cap create wikis that get certificates; past it, sign-up pauses with a clear 503 page and writes nothing', async () => {
    for (let i = 0; i < CAP; i++) {
      // Within the cap the username page is the form.
      const csrf = await anonymousCsrf(app);
      const ticket = await app.ctx.store.repos.tickets.issue('signup', newDid(), payload, SIGNUP_TICKET_TTL_SECONDS);
      const form = await app.http().get('/auth/signup').set('Accept', 'text/html').set('Cookie', `${csrf.cookie}; signup_ticket=${ticket}`);
      expect(form.status).toBe(200);
      expect(form.text).toContain('name="username"');
      const res = await signUpOverHttp(`early${i}`);
      expect(res.status, res.text.slice(0, 300)).toBe(303);
      expect((await ask(`early${i}.localhost`)).status).toBe(200);
    }
    const send = await signUpForm();
    const before = await rowCounts(app);
    const paused = await send('toolate');
    expect(paused.status).toBe(503);
    expect(paused.headers['content-type']).toMatch(/text\/html/);
    expect(paused.text).toContain('Sign-ups are paused until');
    const retryAfter = Number(paused.headers['retry-after']);
    // The oldest of the three leaves the 24-hour window a day after it was created.
    expect(retryAfter).toBeGreaterThan(24 * 3600 - 120);
    expect(retryAfter).toBeLessThanOrEqual(24 * 3600);
    expect(countChanges(before, await rowCounts(app))).toEqual({});
    expect((await ask('toolate.localhost')).status).toBe(404);
  });

  it('past the cap, the username page says so up front (503, Retry-After), before the person picks a name', async () => {
    const csrf = await anonymousCsrf(app);
    const ticket = await app.ctx.store.repos.tickets.issue('signup', newDid(), payload, SIGNUP_TICKET_TTL_SECONDS);
    const page = await app.http().get('/auth/signup').set('Accept', 'text/html').set('Cookie', `${csrf.cookie}; signup_ticket=${ticket}`);
    expect(page.status).toBe(503);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('Sign-ups are paused until');
    expect(page.text).not.toContain('name="username"');
    expect(Number(page.headers['retry-after'])).toBeGreaterThan(24 * 3600 - 120);
  });

  it('the operator log line says what to do', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    await expect(signUp({ ...app.ctx, log }, newDid(), payload, 'logged')).rejects.toThrow(/Sign-ups are paused until/);
    const entry = JSON.parse(lines.find((l) => l.includes('new-wiki cap')) ?? '{}') as { msg?: string; newWikisPerDay?: number; pausedUntil?: string };
    expect(entry.newWikisPerDay).toBe(CAP);
    expect(entry.pausedUntil).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(entry.msg).toContain('NEW_WIKIS_PER_DAY');
    expect(entry.msg).toContain('CADDY_TLS_MODE=wildcard-dns');
  });

  it('a wiki that got past the cap by any other path gets no certificate; one the operator made does', async () => {
    // Rows written directly, as a future code path that forgot the cap would.
    const sneaky = await seedUser(app.ctx, 'sneaky');
    expect(await app.ctx.store.repos.wikis.findBySlug('sneaky')).toBeDefined();
    expect((await ask('sneaky.localhost')).status).toBe(404);
    // `admin wikis create` is the operator's decision: approved even past the cap.
    await createWiki(app.ctx.store, app.ctx.config, { slug: 'byoperator', user: sneaky.did });
    expect((await ask('byoperator.localhost')).status).toBe(200);
    // The early wikis keep their certificates.
    expect((await ask('early0.localhost')).status).toBe(200);
  });

  it('the window rolls: once the oldest wiki is a day old, sign-up opens again', async () => {
    const dayAgo = nowSeconds() - 24 * 3600;
    await app.sql().run("UPDATE wikis SET created_at = ? WHERE slug IN ('early0', 'early1', 'early2', 'sneaky', 'byoperator')", dayAgo);
    const csrf = await anonymousCsrf(app);
    const ticket = await app.ctx.store.repos.tickets.issue('signup', newDid(), payload, SIGNUP_TICKET_TTL_SECONDS);
    expect((await app.http().get('/auth/signup').set('Cookie', `${csrf.cookie}; signup_ticket=${ticket}`)).status).toBe(200);
    const res = await signUpOverHttp('nextday');
    expect(res.status, res.text.slice(0, 300)).toBe(303);
    expect((await ask('nextday.localhost')).status).toBe(200);
  });
});
