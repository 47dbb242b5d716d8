// Races: many clients refreshing one grant at once (in one process, and across two app instances
// sharing the database), many exchanges of one code, many sign-ups for one username. On either
// store: state is read through the Store, counts through app.sql().
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignupTicketPayload } from '../../src/accounts/complete-sign-in.ts';
import { SIGNUP_TICKET_TTL_SECONDS } from '../../src/lifetimes.ts';
import { signUp } from '../../src/accounts/signup.ts';
import {
  anonymousCsrf,
  authorize,
  connectClient,
  consent,
  grantIdOf,
  mcpCall,
  NO_RATE_LIMITS,
  pkcePair,
  refresh,
  REDIRECT_URI,
  registerClient,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  WHOAMI,
  type HardeningApp,
  type Tokens,
} from './support.ts';

const RACERS = 50;

let app: HardeningApp;
beforeAll(async () => {
  app = await startHardeningApp();
});
afterAll(async () => {
  await app?.close();
});

interface RaceOutcome {
  winners: Tokens[];
  refused: number;
}

/** Sends every request at once and sorts the answers: tokens, or a clean invalid_grant. */
async function race(requests: Promise<request.Response>[]): Promise<RaceOutcome> {
  const responses = await Promise.all(requests);
  const outcome: RaceOutcome = { winners: [], refused: 0 };
  for (const res of responses) {
    expect(res.status, res.text).toBeLessThan(500);
    if (res.status === 200) {
      outcome.winners.push(res.body as Tokens);
    } else {
      expect(res.status, res.text).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
      outcome.refused++;
    }
  }
  return outcome;
}

/** After a race: the grant is live, one new token of it works, and so does an access token. */
async function expectGrantSurvives(target: { http(): ReturnType<typeof request> }, clientId: string, outcome: RaceOutcome, slug: string): Promise<void> {
  expect(outcome.winners.length).toBeGreaterThanOrEqual(1);
  const grantId = grantIdOf(outcome.winners[0]!.access_token);
  const grant = await app.ctx.store.repos.grants.findLive(grantId);
  expect(grant, 'the grant is still live').toBeDefined();
  // One family, one live branch (issue 9 finding 8): every winner got the same successor.
  expect(new Set(outcome.winners.map((t) => t.refresh_token)).size).toBe(1);
  const next = await refresh(target, clientId, outcome.winners[outcome.winners.length - 1]!.refresh_token);
  expect(next.status, next.text).toBe(200);
  const who = await mcpCall(app, slug, (next.body as Tokens).access_token, WHOAMI);
  expect(who.status, who.text).toBe(200);
}

describe('50 clients refreshing the same grant at once', () => {
  it('in one process: one rotation, the others get the same successor (grace); the grant survives', async () => {
    const user = await seedUser(app.ctx);
    const { client, tokens } = await connectClient(app, await signedInBrowser(app, user));
    const grantId = grantIdOf(tokens.access_token);
    const rowsBefore = await app.sql().count('refresh_tokens', 'grant_id = ?', grantId);

    const outcome = await race(Array.from({ length: RACERS }, () => refresh(app, client.clientId, tokens.refresh_token)));
    expect(outcome.refused).toBe(0);
    expect(outcome.winners.length).toBe(RACERS);

    // Exactly one rotation of the presented token and exactly one new token: no fork.
    const presented = await app.ctx.store.repos.refreshTokens.findByValue(tokens.refresh_token);
    expect(presented?.rotatedAt).not.toBeNull();
    const rowsAfter = await app.sql().count('refresh_tokens', 'grant_id = ?', grantId);
    expect(rowsAfter - rowsBefore).toBe(1);
    await expectGrantSurvives(app, client.clientId, outcome, user.username);
  });

  it('across two app instances on one database (worker thread): the same, with real parallel transactions', async () => {
    const user = await seedUser(app.ctx);
    const { client, tokens } = await connectClient(app, await signedInBrowser(app, user));
    const worker = new Worker(path.resolve(import.meta.dirname, 'app-worker.ts'), {
      workerData: { DATA_DIR: app.dataDir, LOG_LEVEL: 'silent', ...NO_RATE_LIMITS, ...(app.config.databaseUrl ? { DATABASE_URL: app.config.databaseUrl } : {}) },
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        worker.once('message', (m: { port: number }) => resolve(m.port));
        worker.once('error', reject);
      });
      const other = { http: () => request(`http://127.0.0.1:${port}`) };
      const outcome = await race(Array.from({ length: RACERS }, (_, i) => refresh(i % 2 === 0 ? app : other, client.clientId, tokens.refresh_token)));
      expect(outcome.refused).toBe(0);
      expect(outcome.winners.length).toBe(RACERS);
      await expectGrantSurvives(other, client.clientId, outcome, user.username);
    } finally {
      worker.postMessage('close');
      await new Promise((resolve) => worker.once('exit', resolve));
    }
  });

  it('a second wave racing on the tokens of the first: still no false revocation', async () => {
    const user = await seedUser(app.ctx);
    const { client, tokens } = await connectClient(app, await signedInBrowser(app, user));
    const first = await race(Array.from({ length: 10 }, () => refresh(app, client.clientId, tokens.refresh_token)));
    const second = await race(first.winners.flatMap((t) => Array.from({ length: 5 }, () => refresh(app, client.clientId, t.refresh_token))));
    expect(second.refused).toBe(0);
    await expectGrantSurvives(app, client.clientId, second, user.username);
  });
});

describe('50 clients exchanging the same authorization code at once', () => {
  it('exactly one gets tokens; the others get invalid_grant, and the replay revokes that grant (RFC 6749 §10.5)', async () => {
    const user = await seedUser(app.ctx);
    const browser = await signedInBrowser(app, user);
    const client = await registerClient(app);
    const pkce = pkcePair();
    const code = await consent(app, browser, await authorize(app, browser, client.clientId, pkce, user.username));
    const grantsBefore = await app.sql().count('oauth_grants');
    const exchange = () =>
      app.http()
        .post('/auth/oauth/token')
        .type('form')
        .send({ grant_type: 'authorization_code', code, code_verifier: pkce.verifier, redirect_uri: REDIRECT_URI, client_id: client.clientId });
    const outcome = await race(Array.from({ length: RACERS }, exchange));
    expect(outcome.winners).toHaveLength(1);
    expect(outcome.refused).toBe(RACERS - 1);
    const grantsAfter = await app.sql().count('oauth_grants');
    expect(grantsAfter - grantsBefore).toBe(1);
    const grant = await app.ctx.store.repos.grants.findById(grantIdOf(outcome.winners[0]!.access_token));
    expect(grant?.revokedAt).not.toBeNull();
  });
});

describe('many sign-ups racing for one username', () => {
  const payload: SignupTicketPayload = { handle: 'racer.test', displayName: null, returnTo: undefined };
  const did = (i: number, tag: string) => `did:plc:${tag}${String(i).padStart(3, '0')}`.padEnd(32, 'x');

  it('50 calls of signUp(): exactly one wins, the others are told the name is taken', async () => {
    const results = await Promise.all(Array.from({ length: RACERS }, async (_, i) => signUp(app.ctx, did(i, 'direct'), payload, 'contested')));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results.filter((r) => !r.ok)) expect(r).toMatchObject({ ok: false, conflict: true });
    expect(await app.sql().count('users', "username = 'contested'")).toBe(1);
    expect(await app.sql().count('wikis', "slug = 'contested'")).toBe(1);
  });

  it('50 browsers POSTing /auth/signup with their own tickets: one 303, 49 × 409, one account and one wiki', async () => {
    const csrf = await anonymousCsrf(app);
    const tickets: { did: string; value: string }[] = [];
    for (let i = 0; i < RACERS; i++) tickets.push({ did: did(i, 'http'), value: await app.ctx.store.repos.tickets.issue('signup', did(i, 'http'), payload, SIGNUP_TICKET_TTL_SECONDS) });
    const responses = await Promise.all(
      tickets.map((t) =>
        app.http().post('/auth/signup').type('form').set('Cookie', `${csrf.cookie}; signup_ticket=${t.value}`).send({ _csrf: csrf.token, username: 'racedname' }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 303)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(RACERS - 1);
    expect(await app.sql().count('users', "username = 'racedname'")).toBe(1);
    expect(await app.sql().count('wikis', "slug = 'racedname'")).toBe(1);
    // The losers keep their tickets and can choose another name.
    const winner = tickets[statuses.indexOf(303)]!;
    for (const t of tickets) expect((await app.ctx.store.repos.tickets.peek('signup', t.value)) === undefined).toBe(t === winner);
  });

  it('one browser submitting its signup 50 times with different names: one account for the DID', async () => {
    const csrf = await anonymousCsrf(app);
    const racer = did(0, 'double');
    const ticket = await app.ctx.store.repos.tickets.issue('signup', racer, payload, SIGNUP_TICKET_TTL_SECONDS);
    const responses = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        app.http().post('/auth/signup').type('form').set('Cookie', `${csrf.cookie}; signup_ticket=${ticket}`).send({ _csrf: csrf.token, username: `double${i}` }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 303)).toHaveLength(1);
    for (const s of statuses.filter((s) => s !== 303)) expect([400, 409]).toContain(s);
    expect(await app.sql().count('users', 'did = ?', racer)).toBe(1);
    expect(await app.sql().count('wikis', 'owner_did = ?', racer)).toBe(1);
  });
});
