// When the ATProto OAuth client cannot be loaded at the first sign-in (src/atproto/client.ts): the
// person gets a clear 503 page, the operator one error line saying what to check, nothing else breaks,
// and the next sign-in tries again. The library's failure is simulated (a unit-level stand-in for a
// broken install); the retry then loads the real library against the real local PDS.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { browser, fieldValue, pageText, startLogin } from '../support/browser-flow.ts';
import { createPdsAccount } from '../support/pds.ts';

const failing = vi.hoisted(() => ({ remaining: 0 }));
vi.mock('../../src/atproto/client-library.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/atproto/client-library.ts')>();
  return {
    ...actual,
    buildAtprotoClient: (...args: Parameters<typeof actual.buildAtprotoClient>) => {
      if (failing.remaining > 0) {
        failing.remaining--;
        return Promise.reject(new Error('Cannot find package @atproto/oauth-client-node (simulated)'));
      }
      return actual.buildAtprotoClient(...args);
    },
  };
});

describe('the ATProto client fails to load at the first sign-in', () => {
  let app: TestApp;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    app = await startTestApp({}, { log });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('shows the person a 503 "sign-in unavailable" page, tells the operator what to check, and loads on the next try', async () => {
    failing.remaining = 1;
    const b = browser(app);
    const page = await b.get('/auth/login');
    const res = await b.post('/auth/login', { handle: 'alice.test', _csrf: fieldValue(page.body, '_csrf')! });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('60');
    expect(pageText(res.body)).toContain('Signing in with Bluesky is unavailable right now');
    expect(pageText(res.body)).not.toContain('Cannot find package');
    expect(app.ctx.atproto.loaded).toBe(false);
    const errors = lines.filter((l) => (l.level as number) >= 50);
    // One line saying what to check (besides the request log's line for the 503), and no "request failed" (a bug).
    const told = errors.filter((l) => /ATProto OAuth client could not be loaded.*npm ci --omit=dev.*ATPROTO_CLIENT_KEYS_FILE/.test(String(l.msg)));
    expect(told).toHaveLength(1);
    expect((told[0]!.err as { message: string }).message).toContain('Cannot find package');
    expect(lines.filter((l) => l.msg === 'request failed')).toHaveLength(0);

    // The service runs on, and the next sign-in tries again.
    expect((await b.get('/healthz')).status).toBe(200);
    const account = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'lazyf' });
    await startLogin(b, account.handle);
    expect(app.ctx.atproto.loaded).toBe(true);
  });
});
