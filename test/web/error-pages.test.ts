// Errors become plain pages: the right status, a human message and a request id; never a stack
// trace or internal detail.
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

const apps: TestApp[] = [];

/** A development app, in-process; `app` is a supertest client of it. */
async function devApp(env: Record<string, string> = {}) {
  const t = await startTestApp(env, { listen: false });
  apps.push(t);
  return { ctx: t.ctx, app: t.http() };
}

afterAll(async () => {
  for (const t of apps.splice(0)) await t.close();
});

function expectPlainErrorPage(res: request.Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+|Error:|node_modules/);
  // The request id on the page is the one in the response header, for support requests.
  expect(res.text).toContain(String(res.headers['x-request-id']));
}

describe('error pages', () => {
  it('an unknown path gets a 404 page', async () => {
    const { app } = await devApp();
    const res = await app.get('/no/such/page');
    expectPlainErrorPage(res, 404);
    expect(res.text).toContain('Not found');
  });

  it('a form body over the size limit gets a 413 page', async () => {
    const { app } = await devApp();
    const res = await app
      .post('/auth/login')
      .type('form')
      .send({ handle: 'a'.repeat(20_000) });
    expectPlainErrorPage(res, 413);
    expect(res.text).toContain('The request body is too large.');
  });

  it('too many sign-in attempts from one address get a 429 page with Retry-After', async () => {
    const { app } = await devApp({ RATE_LIMIT_LOGIN_PER_MINUTE: '3' });
    const agent = app;
    for (let i = 0; i < 3; i++) {
      // Refused for want of a CSRF token, but counted.
      expect((await agent.post('/auth/login').type('form').send({ handle: 'alice.test' })).status).toBe(403);
    }
    const res = await agent.post('/auth/login').type('form').send({ handle: 'alice.test' });
    expectPlainErrorPage(res, 429);
    expect(res.text).toContain('Too many requests');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    // Other pages are not limited by the sign-in limit.
    expect((await agent.get('/auth/login')).status).toBe(200);
  });

  it('an unexpected failure gets a plain 500 page without details', async () => {
    const { ctx, app } = await devApp();
    ctx.sqlite!.db.close();
    const res = await app.get('/auth/signup').set('Cookie', 'signup_ticket=anything');
    expectPlainErrorPage(res, 500);
    expect(res.text).toContain('Something went wrong on our side');
    expect(res.text).not.toMatch(/database|sqlite|connection/i);
  });

  it('a forged "cancelled" callback with an unknown state is an error, not a cancelled sign-in', async () => {
    const { app } = await devApp();
    const res = await app.get('/auth/callback?error=access_denied&state=forged&iss=http%3A%2F%2Flocalhost%3A1');
    expectPlainErrorPage(res, 400);
    expect(res.text).not.toContain('Sign-in cancelled');
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('a callback without parameters is an error', async () => {
    const { app } = await devApp();
    const res = await app.get('/auth/callback');
    expectPlainErrorPage(res, 400);
    expect(res.text).toContain('Sign-in failed');
  });

  it('a hand-off without a valid ticket is an error', async () => {
    const { app } = await devApp();
    for (const url of ['/auth/handoff', '/auth/handoff?ticket=guess', '/auth/handoff?ticket=a&ticket=b']) {
      const res = await app.get(url);
      expectPlainErrorPage(res, 400);
      expect(res.text).toContain('This sign-in link is invalid, expired or was already used');
    }
  });
});
