// Issue 9, finding 10: the PDS tokens and DPoP private keys that the ATProto OAuth client stores
// (atproto_sessions; atproto_auth_states for sign-ins in flight) were plaintext JSON in the
// database, so a copied database file or backup handed over every person's PDS session. Now they
// are sealed (AES-256-GCM, key derived from the platform key file, row identity as associated data).
// On either store: on SQLite the check reads every byte of the database file and its WAL; on
// PostgreSQL (whose files belong to the server) every row of every table, as a dump would hold them.
// Raw rows are read and planted with app.sql() (test/support/sql.ts), as an attacker with the database would.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { NodeSavedSession, NodeSavedState } from '@atproto/oauth-client-node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../src/config/env.ts';
import { generatePrivateJwk, readKeyFile, rotateKeys, writeKeyFile } from '../../src/config/keys.ts';
import type { AppContext } from '../../src/context.ts';
import { purgeNow } from '../../src/maintenance.ts';
import { createSealer, isSealed, readSealingJwks } from '../../src/lib/sealing.ts';
import { createSharedSessionStore, createSharedStateStore } from '../../src/storage/atproto-stores.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { browser, chooseUsername, location, startLogin } from '../support/browser-flow.ts';
import { approveAtPds, createPdsAccount } from '../support/pds.ts';

/** The library's own view of what it stored (protected members, read for the test only). */
interface LibraryInternals {
  stateStore: { get(key: string): Promise<{ dpopKey: { privateJwk?: { d?: string } }; verifier?: string } | undefined> };
  sessionGetter: {
    getSession(did: string, refresh: boolean): Promise<{ dpopKey: { privateJwk?: { d?: string } }; tokenSet: { access_token: string; refresh_token?: string } }>;
  };
}

/**
 * What a copy of the database holds. SQLite: every byte on disk, the main file and its write-ahead
 * log. PostgreSQL: every row of every table (the server's files are its own).
 */
async function databaseBytes(app: TestApp): Promise<Buffer> {
  const sql = app.sql();
  if (sql.dialect === 'sqlite') {
    const file = app.config.databaseFile;
    return Buffer.concat([file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
  }
  const rows: string[] = [];
  for (const table of await sql.tables()) for (const row of await sql.all(`SELECT * FROM "${table}"`)) rows.push(JSON.stringify(row));
  return Buffer.from(rows.join('\n'));
}

describe('after a real sign-in against the local PDS, the database file holds no PDS token or private key', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_LOGIN_PER_MINUTE: '10000' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('neither while the sign-in is in flight (DPoP key, PKCE verifier) nor once the session is stored (tokens, DPoP key)', async () => {
    const account = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'seal' });
    const library = (await app.ctx.atproto.get()) as unknown as LibraryInternals;
    const b = browser(app);
    const stateKeys = async () => (await app.sql().all<{ key: string }>('SELECT key FROM atproto_auth_states')).map((r) => r.key);
    const statesBefore = new Set(await stateKeys());
    const authorizeUrl = await startLogin(b, account.handle);

    // In flight: the authorization state (the row the login added) holds a DPoP private key and the PKCE verifier.
    const added = (await stateKeys()).filter((k) => !statesBefore.has(k));
    expect(added, 'the login stored one state').toHaveLength(1);
    const key = added[0]!;
    const state = await library.stateStore.get(key);
    const stateSecrets = [state?.dpopKey.privateJwk?.d, state?.verifier];
    expect(stateSecrets.every((s) => typeof s === 'string' && s.length >= 32), 'the library saved its in-flight secrets').toBe(true);
    let bytes = await databaseBytes(app);
    for (const secret of stateSecrets) expect(bytes.includes(secret!), 'in-flight secret on disk').toBe(false);

    // Signed in: the session holds the PDS access and refresh tokens and a DPoP private key.
    const callback = await b.get(await approveAtPds(authorizeUrl, account));
    expect(callback.status).toBe(303);
    expect((await b.get(location(callback))).status).toBe(303);
    expect((await chooseUsername(b)).res.status).toBe(303);
    const session = await library.sessionGetter.getSession(account.did, false);
    const sessionSecrets = [session.tokenSet.access_token, session.tokenSet.refresh_token, session.dpopKey.privateJwk?.d];
    expect(sessionSecrets.every((s) => typeof s === 'string' && s.length >= 32), 'the library stored a full session').toBe(true);
    bytes = await databaseBytes(app);
    for (const secret of [...stateSecrets, ...sessionSecrets]) expect(bytes.includes(secret!), 'secret on disk').toBe(false);
    const raw = (await app.sql().get<{ value: string }>('SELECT value FROM atproto_sessions WHERE did = ?', account.did))!.value;
    expect(raw).not.toContain('refresh_token');
    expect(raw).not.toContain(session.tokenSet.access_token);

    // And the sealed session works: the PDS accepts it.
    const live = await (await app.ctx.atproto.get()).restore(account.did, false);
    expect((await live.fetchHandler('/xrpc/com.atproto.server.getSession')).status).toBe(200);
  });
});

describe('sealing: rotation, lost keys, tampering, rows from before', () => {
  let app: TestApp;
  let config: Config;
  let ctx: AppContext;
  const warnings: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line) as Record<string, unknown>) });
  const DID = 'did:plc:sealtest';
  const SESSION = {
    dpopJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'dpop-private-d-of-the-session' },
    authMethod: { method: 'none' },
    tokenSet: { iss: 'https://pds.example', sub: DID, aud: 'https://pds.example', scope: 'atproto', access_token: 'pds-access-token', refresh_token: 'pds-refresh-token', token_type: 'DPoP' },
  } as unknown as NodeSavedSession;

  const sessionStore = () => createSharedSessionStore(ctx.store, { sealer: ctx.sealer, log });
  const rawSession = async (did = DID) => (await app.sql().get<{ value: string }>('SELECT value FROM atproto_sessions WHERE did = ?', did))?.value;
  const setRaw = (value: string, did = DID) =>
    app.sql().run('INSERT INTO atproto_sessions (did, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (did) DO UPDATE SET value = excluded.value', did, value, Math.floor(Date.now() / 1000));
  const aad = (did = DID) => `atproto_sessions\0${did}`;

  beforeEach(async () => {
    app = await startTestApp({}, { listen: false, log });
    ({ config, ctx } = app);
    warnings.length = 0;
  });
  afterEach(async () => {
    await app.close();
  });

  async function rotatePlatformKey(): Promise<void> {
    const keys = readKeyFile(config.platformKeysFile);
    writeKeyFile(config.platformKeysFile, rotateKeys(keys, await generatePrivateJwk('RS256'), Math.floor(Date.now() / 1000) + 3600));
  }

  async function restart(): Promise<void> {
    ctx = await app.reopen();
  }

  it('stores a sealed value that opens back to the same session, bound to its key id', async () => {
    await sessionStore().set(DID, SESSION);
    const raw = (await rawSession())!;
    expect(isSealed(raw)).toBe(true);
    expect(raw.startsWith(ctx.sealer.currentPrefix)).toBe(true);
    expect(raw).not.toContain('pds-refresh-token');
    expect(await sessionStore().get(DID)).toEqual(SESSION);
  });

  it('after `keys rotate` and a restart, start-up re-seals every row with the new key', async () => {
    await sessionStore().set(DID, SESSION);
    const before = ctx.sealer.currentPrefix;
    await rotatePlatformKey();
    await restart();
    expect(ctx.sealer.currentPrefix).not.toBe(before);
    expect((await rawSession())!.startsWith(ctx.sealer.currentPrefix)).toBe(true);
    // Only the new key is needed from now on.
    const newOnly = createSealer(readSealingJwks(config.platformKeysFile).slice(0, 1));
    expect(newOnly.open((await rawSession())!, aad())).toMatchObject({ ok: true, stale: false });
  });

  it('a row sealed with the previous key (still in the file) is opened and re-sealed on read, and by the purge job', async () => {
    const previous = createSealer(readSealingJwks(config.platformKeysFile));
    await rotatePlatformKey();
    await restart();
    await setRaw(previous.seal(JSON.stringify(SESSION), aad()));
    expect(await sessionStore().get(DID)).toEqual(SESSION);
    expect((await rawSession())!.startsWith(ctx.sealer.currentPrefix)).toBe(true);

    await setRaw(previous.seal(JSON.stringify(SESSION), aad()));
    const counts = await purgeNow({ ...ctx, log });
    expect(counts.atproto_secrets_resealed).toBe(1);
    expect((await rawSession())!.startsWith(ctx.sealer.currentPrefix)).toBe(true);
    expect(await sessionStore().get(DID)).toEqual(SESSION);
  });

  it('a row whose key is no longer in the file is treated as missing, with a warn line naming the cause; the purge deletes it', async () => {
    const gone = createSealer([{ kid: 'retired-and-deleted', d: crypto.randomBytes(32).toString('base64url') }]);
    await setRaw(gone.seal(JSON.stringify(SESSION), aad()));
    expect(await sessionStore().get(DID)).toBeUndefined();
    expect(warnings).toEqual([expect.objectContaining({ level: 40, reason: 'unknown_key', kid: 'retired-and-deleted', did: DID })]);
    expect(String(warnings[0]!.msg)).toMatch(/no longer in the platform key file/);

    const counts = await purgeNow({ ...ctx, log });
    expect(counts.atproto_secrets_unreadable).toBe(1);
    expect(await rawSession()).toBeUndefined();
  });

  it('refuses a tampered ciphertext, and a ciphertext moved to another DID’s row', async () => {
    await sessionStore().set(DID, SESSION);
    const raw = (await rawSession())!;
    const parts = raw.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[5] = body[5]! ^ 0x01;
    await setRaw([...parts.slice(0, 3), body.toString('base64url')].join('.'));
    expect(await sessionStore().get(DID)).toBeUndefined();
    expect(warnings.at(-1)).toMatchObject({ reason: 'tampered' });

    // The attacker's own sealed session, planted in the victim's row, does not open there either.
    const victim = 'did:plc:victim';
    await setRaw(raw, victim);
    expect(await sessionStore().get(victim)).toBeUndefined();
    expect(warnings.at(-1)).toMatchObject({ reason: 'tampered', did: victim });
  });

  it('plaintext rows from before sealing are sealed once at start-up, states included (a refused sign-in still finds its state)', async () => {
    const state = { appState: '{"bindingHash":"b1"}', dpopJwk: { d: 'dpop-private-d-of-the-state' }, verifier: 'pkce-verifier-of-the-state', iss: 'https://pds.example' } as unknown as NodeSavedState;
    await setRaw(JSON.stringify(SESSION));
    await app.sql().run('INSERT INTO atproto_auth_states (key, value, created_at) VALUES (?, ?, ?)', 'state-1', JSON.stringify(state), Math.floor(Date.now() / 1000));
    await restart();
    expect(isSealed((await rawSession())!)).toBe(true);
    const rawState = (await app.sql().get<{ value: string }>('SELECT value FROM atproto_auth_states WHERE key = ?', 'state-1'))!.value;
    expect(isSealed(rawState)).toBe(true);
    expect(rawState).not.toContain('pkce-verifier-of-the-state');
    expect(await sessionStore().get(DID)).toEqual(SESSION);
    expect(await createSharedStateStore(ctx.store, { sealer: ctx.sealer, log }).get('state-1')).toEqual(state);
    expect(await ctx.store.repos.atprotoStates.forgetByAppState('{"bindingHash":"b1"}')).toBe(1);
    expect(warnings).toEqual([]);
  });

  it('a plaintext row that appears later (not through the store) is refused on read', async () => {
    await setRaw(JSON.stringify(SESSION));
    expect(await sessionStore().get(DID)).toBeUndefined();
    expect(warnings.at(-1)).toMatchObject({ reason: 'not_sealed' });
  });
});
