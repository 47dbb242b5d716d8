// Issue 13 items 3 and 4: every security event lands in the audit log (and in the structured log at
// info), with DID, client, wiki, actor and source address; a failing audit insert never fails the
// request nor rolls back its write; a normal refresh writes no audit row; retention purges; the
// `audit` admin command prints it; successful /auth/verify calls log at debug.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/admin/program.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { browser, fieldValue, signIn, signUpNew } from '../support/browser-flow.ts';
import { createPdsAccount, httpRequest } from '../support/pds.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { wikiHost } from '../conformance/support.ts';
import { seedPerson } from '../support/seed.ts';
import { authorizeParams, authorizeUrl, exchangeCode, newPkce, obtainCode, openConsent, postForm, refresh, registerClaudeCode, submitConsent, tokenRequest } from '../support/oauth-flow.ts';
import { captureIo } from '../support/cli-io.ts';

let app: TestApp;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const log = pino({ level: 'debug', base: { service: 'robot-auth' } }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  app = await startTestApp(
    { RATE_LIMIT_TOKEN_PER_MINUTE: '100000', RATE_LIMIT_LOGIN_PER_MINUTE: '100000', RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: '100000' },
    { log },
  );
});
afterAll(async () => {
  await app?.close();
});

const rows = (did: string) => app.ctx.audit.list({ did });
const auditCount = () => (app.ctx.sqlite!.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;

async function cli(...argv: string[]) {
  const capture = captureIo({ DATA_DIR: app.dataDir, LOG_LEVEL: 'silent' }, app.dataDir);
  const status = await runCli(argv, capture.io);
  return { status, stdout: capture.stdout(), stderr: capture.stderr() };
}

describe('audit log', () => {
  it('records signup and sign-in at the real PDS, with the source address, and logs them at info', async () => {
    const account = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'audit' });
    await signUpNew(app, browser(app), account);
    await signIn(app, browser(app), account);
    const events = await rows(account.did);
    expect(events.map((e) => e.event)).toEqual(['sign_in', 'signup']);
    expect(events[0]).toMatchObject({ did: account.did, actor: 'person', address: '127.0.0.1' });
    const logged = lines.filter((l) => l.audit === 'sign_in' && l.did === account.did);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 30, msg: 'security event: sign_in' });
  });

  it('records consent given and consent denied with client and wiki', async () => {
    const client = await registerClaudeCode(app);
    const person = await seedPerson(app, 'auditconsent');
    await obtainCode(client, person, app);
    const page = await openConsent(person.browser, authorizeUrl(app, authorizeParams(client, person, newPkce())));
    expect((await submitConsent(person.browser, page, 'deny')).status).toBe(303);
    const [denied, given] = await rows(person.did);
    expect(given).toMatchObject({ event: 'consent_given', clientId: client.clientId, wikiSlug: 'auditconsent', actor: 'person', address: '127.0.0.1' });
    expect(given!.detail).toEqual({ scope: 'wiki:read wiki:write' });
    expect(denied).toMatchObject({ event: 'consent_denied', clientId: client.clientId, actor: 'person' });
  });

  it('records a code replay and the revocation it caused; a normal refresh writes no row', async () => {
    const client = await registerClaudeCode(app);
    const person = await seedPerson(app, 'auditcode');
    const issued = await obtainCode(client, person, app);
    const tokens = await exchangeCode(app, client, issued);
    const before = auditCount();
    expect((await refresh(app, client, tokens.refresh_token)).status).toBe(200);
    expect(auditCount()).toBe(before);
    const again = await tokenRequest(app, client, { grant_type: 'authorization_code', code: issued.code, code_verifier: issued.pkce.verifier, redirect_uri: issued.redirectUri });
    expect(again.status).toBe(400);
    const [revoked, replay] = await rows(person.did);
    expect(replay).toMatchObject({ event: 'code_replay_detected', clientId: client.clientId, wikiSlug: 'auditcode', actor: 'replay', address: '127.0.0.1' });
    expect(revoked).toMatchObject({ event: 'grant_revoked', actor: 'replay', detail: { reason: 'code_replay' } });
  });

  it('records a refresh replay and the revocation', async () => {
    const client = await registerClaudeCode(app);
    const person = await seedPerson(app, 'auditrefresh');
    const tokens = await exchangeCode(app, client, await obtainCode(client, person, app));
    const first = await refresh(app, client, tokens.refresh_token);
    expect((await refresh(app, client, String(first.body.refresh_token))).status).toBe(200);
    expect((await refresh(app, client, tokens.refresh_token)).status).toBe(400);
    const [revoked, replay] = await rows(person.did);
    expect(replay).toMatchObject({ event: 'refresh_replay_detected', clientId: client.clientId, actor: 'replay', detail: { reason: 'successor_rotated' } });
    expect(revoked).toMatchObject({ event: 'grant_revoked', actor: 'replay', detail: { reason: 'refresh_replay' } });
    expect(lines.some((l) => l.audit === 'refresh_replay_detected' && l.did === person.did && l.level === 30)).toBe(true);
  });

  it('a failing audit insert neither fails the request nor rolls back the replay revocation', async () => {
    const client = await registerClaudeCode(app);
    const person = await seedPerson(app, 'auditbroken');
    const issued = await obtainCode(client, person, app);
    const tokens = await exchangeCode(app, client, issued);
    app.ctx.sqlite!.db.exec(`CREATE TRIGGER audit_broken BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit storage broken'); END`);
    try {
      const again = await tokenRequest(app, client, { grant_type: 'authorization_code', code: issued.code, code_verifier: issued.pkce.verifier, redirect_uri: issued.redirectUri });
      expect(again.status, again.raw).toBe(400);
      expect(again.body.error).toBe('invalid_grant');
    } finally {
      app.ctx.sqlite!.db.exec('DROP TRIGGER audit_broken');
    }
    // The grant was revoked all the same: the refresh token is dead.
    expect((await refresh(app, client, tokens.refresh_token)).status).toBe(400);
    expect((await rows(person.did)).filter((e) => e.event === 'code_replay_detected')).toHaveLength(0);
    expect(lines.some((l) => l.msg === 'audit event could not be stored (the request itself went through); check the storage faults')).toBe(true);
  });

  it('records revocation by the client (RFC 7009) and by the person on the account page', async () => {
    const client = await registerClaudeCode(app);
    const person = await seedPerson(app, 'auditrevoke');
    const viaClient = await exchangeCode(app, client, await obtainCode(client, person, app));
    expect((await postForm(app, OAUTH_PATHS.revoke, client, { token: viaClient.refresh_token })).status).toBe(200);
    await exchangeCode(app, client, await obtainCode(client, person, app));
    const grantId = (await app.ctx.store.repos.grants.listConnectedApps(person.did))[0]!.id;
    const account = await person.browser.get('/account');
    const res = await person.browser.post('/account/apps/revoke', { _csrf: fieldValue(account.body, '_csrf') ?? '', grant: grantId });
    expect(res.status).toBe(303);
    const revocations = (await rows(person.did)).filter((e) => e.event === 'grant_revoked');
    expect(revocations.map((e) => e.actor)).toEqual(['person', 'client']);
    expect(revocations[1]).toMatchObject({ clientId: client.clientId, wikiSlug: 'auditrevoke', detail: { via: 'rfc7009' } });
  });

  it('records admin actions and key rotation; `audit` prints them, filtered, as a table or JSON', async () => {
    const person = await seedPerson(app, 'auditadmin');
    expect((await cli('grants', 'revoke', '--user', 'auditadmin')).status).toBe(0);
    expect((await cli('sessions', 'revoke', '--user', person.did)).status).toBe(0);
    expect((await cli('keys', 'rotate')).status).toBe(0);
    const mine = await cli('audit', '--did', person.did, '--json');
    expect(mine.status).toBe(0);
    const entries = JSON.parse(mine.stdout) as Record<string, unknown>[];
    expect(entries.map((e) => [e.event, e.actor])).toEqual([
      ['admin_action', 'admin'],
      ['grant_revoked', 'admin'],
    ]);
    expect(entries[0]).toMatchObject({ detail: { command: 'sessions revoke' } });
    expect(String(entries[0]!.at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const table = await cli('audit', '--since', '1h');
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME\s+EVENT\s+ACTOR\s+DID\s+CLIENT\s+WIKI\s+ADDRESS\s+DETAIL$/);
    expect(table.stdout).toMatch(/key_rotated\s+admin/);
    expect((await cli('audit', '--since', 'yesterday')).status).toBe(1);
    expect((await cli('audit', '--since', '2999-01-01')).stdout).toBe('No audit events.');
  });

  it('is purged after AUDIT_RETENTION_DAYS (the Store\'s purge)', async () => {
    const now = nowSeconds();
    const insert = app.ctx.sqlite!.db.prepare("INSERT INTO audit_log (at, event, did) VALUES (?, 'sign_in', 'did:plc:retention')");
    insert.run(now - 91 * 86400);
    insert.run(now - 89 * 86400);
    const counts = await app.ctx.store.repos.purge.expired({ clientIdleSeconds: 3600, auditRetentionDays: 90 });
    expect(counts.audit_log).toBe(1);
    expect(await app.ctx.audit.list({ did: 'did:plc:retention' })).toHaveLength(1);
    expect((await app.ctx.store.repos.purge.expired({ clientIdleSeconds: 3600, auditRetentionDays: 30 })).audit_log).toBe(1);
  });
});

describe('logs', () => {
  it('a successful /auth/verify is logged at debug, a refused one at info', async () => {
    const client = await registerClaudeCode(app);
    const person = await seedPerson(app, 'auditverify');
    const tokens = await exchangeCode(app, client, await obtainCode(client, person, app));
    const host = wikiHost(app, 'auditverify');
    const ok = await httpRequest(`http://127.0.0.1:${app.port}/auth/verify`, { headers: { host, authorization: `Bearer ${tokens.access_token}` } });
    expect(ok.status).toBe(200);
    const refused = await httpRequest(`http://127.0.0.1:${app.port}/auth/verify`, { headers: { host } });
    expect(refused.status).toBe(401);
    const verifyLines = lines.filter((l) => (l.req as { url?: string } | undefined)?.url === '/auth/verify' && l.msg === 'request completed');
    expect(verifyLines.map((l) => [(l.res as { statusCode: number }).statusCode, l.level])).toEqual([
      [200, 20],
      [401, 30],
    ]);
  });
});
