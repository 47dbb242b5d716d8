// The operator CLI: listings (tables and --json), wiki creation under the username rules, the two
// revocations, purge, and the CLI's own rules (configuration, exit statuses, help, refusing an
// older schema), run in-process through runCli, plus real `node src/admin/cli.ts` spawns.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { User } from '../../src/accounts/users.repo.ts';
import { createWiki, listWikis } from '../../src/admin/wikis.ts';
import { listUsers, revokeGrants, revokeSessions } from '../../src/admin/users.ts';
import { listClients } from '../../src/admin/clients.ts';
import { COMMANDS } from '../../src/admin/commands.ts';
import { runCli } from '../../src/admin/program.ts';
import { AdminError } from '../../src/admin/errors.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { nowSeconds, openDatabase } from '../../src/db/open.ts';
import { createSealer, readSealingJwks, type Sealer } from '../../src/lib/sealing.ts';
import { refreshTokenHash } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { writeTestKeyFiles } from '../support/key-files.ts';
import { CLI, ROOT } from '../ops/server-process.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { captureIo } from '../support/cli-io.ts';
import { seedClient, seedGrant, seedSession, seedUser, tempData, type TempData } from '../support/seed.ts';

let t: TempData;
let alice: User;
let bob: User;
let clientId: string;

beforeEach(async () => {
  t = tempData();
  alice = await seedUser(t, 'alice');
  bob = await seedUser(t, 'bob');
  clientId = await seedClient(t);
});
afterEach(() => t.cleanup());

/** The Store over this test's database, as the CLI opens it on SQLite (src/admin/database.ts). */
const store = () => createSqliteStore(t.db, { closeDatabase: false });

/** Runs the CLI in-process against this test's data directory. */
async function cli(...argv: string[]) {
  const capture = captureIo({ DATA_DIR: t.dir, LOG_LEVEL: 'silent' }, t.dir);
  const status = await runCli(argv, capture.io);
  return { status, stdout: capture.stdout(), stderr: capture.stderr() };
}

const countWhere = (sql: string, ...args: unknown[]) => (t.db.prepare(sql).get(...args) as { n: number }).n;

describe('users list', () => {
  it('shows each user with wikis, live sessions and live grants, as a table', async () => {
    await seedSession(t, alice.did);
    await seedSession(t, alice.did);
    await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId });
    const { status, stdout } = await cli('users', 'list');
    expect(status).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+DID\s+HANDLE\s+WIKIS\s+SESSIONS\s+GRANTS\s+CREATED\s+LAST LOGIN$/);
    expect(lines[1]).toMatch(new RegExp(`^alice\\s+${alice.did}\\s+alice\\.test\\s+1\\s+2\\s+1\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d`));
    expect(lines[2]).toMatch(/^bob\s/);
  });

  it('--json gives snake_case records with ISO times', async () => {
    const { status, stdout } = await cli('users', 'list', '--json');
    expect(status).toBe(0);
    const users = JSON.parse(stdout) as Record<string, unknown>[];
    expect(users.map((u) => u.username)).toEqual(['alice', 'bob']);
    expect(users[0]).toEqual({
      username: 'alice',
      did: alice.did,
      handle: 'alice.test',
      display_name: null,
      wikis: 1,
      live_sessions: 0,
      live_grants: 0,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      last_login_at: expect.stringMatching(/Z$/),
    });
  });

  it('does not count revoked or expired sessions as live', async () => {
    const live = await seedSession(t, alice.did);
    const revoked = await seedSession(t, alice.did);
    await seedSession(t, alice.did, -10);
    t.db.prepare('UPDATE sessions SET revoked_at = ? WHERE id = ?').run(nowSeconds(), revoked);
    expect(live).toBeTruthy();
    expect((await listUsers(store())).find((u) => u.did === alice.did)?.liveSessions).toBe(1);
  });

  it('says so when there is nobody', async () => {
    t.db.exec('DELETE FROM users');
    expect((await cli('users', 'list')).stdout).toBe('No users.');
    expect((await cli('users', 'list', '--json')).stdout).toBe('[]');
  });
});

describe('wikis', () => {
  it('lists every wiki with its owner and MCP URL, or only one user’s', async () => {
    await createWiki(store(), t.config, { slug: 'alice-notes', user: 'alice' });
    expect((await listWikis(store(), t.config)).map((w) => w.slug)).toEqual(['alice', 'alice-notes', 'bob']);
    const { status, stdout } = await cli('wikis', 'list', '--user', alice.did, '--json');
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toEqual([
      expect.objectContaining({ slug: 'alice', owner_username: 'alice', owner_did: alice.did, mcp_url: 'http://alice.localhost:3000/mcp', live_grants: 0 }),
      expect.objectContaining({ slug: 'alice-notes', url: 'http://alice-notes.localhost:3000' }),
    ]);
    expect((await cli('wikis', 'list')).stdout).toMatch(/^SLUG\s+OWNER\s+GRANTS\s+CREATED\s+MCP URL\n/);
  });

  it('creates a wiki for a user named by username or by DID', async () => {
    const byName = await cli('wikis', 'create', 'team-notes', '--user', 'alice');
    expect(byName.status).toBe(0);
    expect(byName.stdout).toContain('Created the wiki team-notes for alice');
    expect(byName.stdout).toContain('http://team-notes.localhost:3000/mcp');
    const byDid = await cli('wikis', 'create', 'bob-two', '--user', bob.did, '--json');
    expect(byDid.status).toBe(0);
    expect(JSON.parse(byDid.stdout)).toMatchObject({ slug: 'bob-two', owner_did: bob.did });
    expect(countWhere('SELECT count(*) AS n FROM wikis WHERE owner_did = ?', alice.did)).toBe(2);
    expect(countWhere('SELECT count(*) AS n FROM wikis WHERE owner_did = ?', bob.did)).toBe(2);
  });

  it('lower-cases the slug and accepts a username in any case', async () => {
    expect((await createWiki(store(), t.config, { slug: ' Shared ', user: 'ALICE' })).slug).toBe('shared');
  });

  it('refuses slugs that break the username rules, reserved names and taken names', async () => {
    const refused: [string, RegExp][] = [
      ['ab', /at least 3/],
      ['-lead', /hyphen/],
      ['under_score', /lowercase letters/],
      ['xn--abc', /reserved for DNS/],
      ['admin', /reserved/],
      ['healthz', /reserved/],
      ['bob', /already exists \(owner did:plc:bob/],
    ];
    for (const [slug, message] of refused) {
      await expect(createWiki(store(), t.config, { slug, user: 'alice' }), slug).rejects.toThrow(message);
    }
    expect(countWhere('SELECT count(*) AS n FROM wikis')).toBe(2);
  });

  it("refuses another user's username even when that user's wiki is gone", async () => {
    t.db.prepare('DELETE FROM wikis WHERE slug = ?').run('bob');
    await expect(createWiki(store(), t.config, { slug: 'bob', user: 'alice' })).rejects.toThrow(/username of another user/);
    // …but the user may get their own name back.
    expect((await createWiki(store(), t.config, { slug: 'bob', user: 'bob' })).ownerDid).toBe(bob.did);
  });

  it('refuses an unknown user (exit 1) and a missing --user or slug (exit 2)', async () => {
    const unknown = await cli('wikis', 'create', 'fresh', '--user', 'nobody');
    expect(unknown).toMatchObject({ status: 1, stdout: '' });
    expect(unknown.stderr).toMatch(/No user "nobody"/);
    const noUser = await cli('wikis', 'create', 'fresh');
    expect(noUser.status).toBe(2);
    expect(noUser.stderr).toMatch(/needs --user USER/);
    expect((await cli('wikis', 'create', '--user', 'alice')).stderr).toMatch(/needs SLUG/);
    expect(countWhere('SELECT count(*) AS n FROM wikis WHERE slug = ?', 'fresh')).toBe(0);
  });
});

describe('clients list', () => {
  it('shows registrations with name, auth method, live grants and first use', async () => {
    await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId });
    const [client] = await listClients(store());
    expect(client).toMatchObject({ clientId, kind: 'registered', clientName: 'Claude Code', tokenEndpointAuthMethod: 'none', liveGrants: 1, firstTokenAt: null });
    const table = await cli('clients', 'list');
    expect(table.stdout).toMatch(new RegExp(`\\n${clientId}\\s+registered\\s+Claude Code\\s+none\\s+1\\s+\\d{4}-`));
    const json = JSON.parse((await cli('clients', 'list', '--json')).stdout) as Record<string, unknown>[];
    expect(json[0]).toMatchObject({ client_id: clientId, redirect_uris: ['http://localhost:54321/callback'], first_token_at: null });
  });
});

describe('revocation', () => {
  it("sessions revoke ends every live session of the user and no one else's", async () => {
    await seedSession(t, alice.did);
    await seedSession(t, alice.did);
    await seedSession(t, bob.did);
    const { status, stdout } = await cli('sessions', 'revoke', '--user', 'alice');
    expect(status).toBe(0);
    expect(stdout).toBe(`Revoked 2 browser sessions of alice (${alice.did}).`);
    expect(countWhere('SELECT count(*) AS n FROM sessions WHERE did = ? AND revoked_at IS NULL', alice.did)).toBe(0);
    expect(countWhere('SELECT count(*) AS n FROM sessions WHERE did = ? AND revoked_at IS NULL', bob.did)).toBe(1);
    expect((await revokeSessions(store(), alice.did)).revoked).toBe(0);
  });

  it('grants revoke revokes each grant and deletes its refresh tokens', async () => {
    const one = await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId });
    await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId });
    const bobs = await seedGrant(t, t.config, { did: bob.did, slug: 'bob', clientId });
    const { status, stdout } = await cli('grants', 'revoke', '--user', alice.did);
    expect(status).toBe(0);
    expect(stdout).toBe(`Revoked 2 grants of alice (${alice.did}).`);
    expect(countWhere('SELECT count(*) AS n FROM oauth_grants WHERE user_did = ? AND revoked_at IS NULL', alice.did)).toBe(0);
    expect(countWhere('SELECT count(*) AS n FROM refresh_tokens WHERE hash = ?', refreshTokenHash(one.refreshToken))).toBe(0);
    expect(countWhere('SELECT count(*) AS n FROM refresh_tokens WHERE hash = ?', refreshTokenHash(bobs.refreshToken))).toBe(1);
    expect((await revokeGrants(store(), 'alice')).revoked).toBe(0);
  });

  it('names the user it could not find', async () => {
    await expect(revokeSessions(store(), 'did:plc:unknown')).rejects.toThrow(AdminError);
    await expect(revokeGrants(store(), 'zed')).rejects.toThrow(/No user "zed"/);
  });
});

describe('purge', () => {
  /** The platform key file, as the service writes it on first start. */
  async function writePlatformKeys(): Promise<Sealer> {
    await writeTestKeyFiles(t.config);
    return createSealer(readSealingJwks(t.config.platformKeysFile));
  }

  it('deletes expired rows and prints how many per table', async () => {
    await writePlatformKeys();
    await seedSession(t, alice.did, -10);
    await seedSession(t, alice.did);
    const { status, stdout } = await cli('purge');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^TABLE\s+DELETED\n/);
    expect(stdout).toMatch(/\nsessions\s+1\n/);
    expect(countWhere('SELECT count(*) AS n FROM sessions')).toBe(1);
    expect(JSON.parse((await cli('purge', '--json')).stdout)).toMatchObject({ sessions: 0, refresh_tokens: 0 });
  });

  it("does the service's whole pass (src/maintenance.ts): re-seals the ATProto stores, drops closed grace windows' successors", async () => {
    const sealer = await writePlatformKeys();
    // A PDS session stored before sealing existed (or under an older key), and a refresh token
    // rotated an hour ago whose successor is still kept sealed although its 60 s window closed.
    t.db.prepare('INSERT INTO atproto_sessions (did, value, updated_at) VALUES (?, ?, ?)').run(alice.did, '{"tokenSet":"plain"}', nowSeconds());
    const { grantId } = await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId });
    t.db
      .prepare("UPDATE refresh_tokens SET rotated_at = ?, successor_hash = 'next', successor_sealed = 'sealed-successor' WHERE grant_id = ?")
      .run(nowSeconds() - 3600, grantId);

    const { status, stdout } = await cli('purge', '--json');
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ atproto_secrets_resealed: 1, atproto_secrets_unreadable: 0, refresh_successors_sealed: 1 });
    const { value } = t.db.prepare('SELECT value FROM atproto_sessions WHERE did = ?').get(alice.did) as { value: string };
    expect(value.startsWith(sealer.currentPrefix)).toBe(true);
    expect(sealer.open(value, `atproto_sessions\0${alice.did}`)).toMatchObject({ ok: true, plaintext: '{"tokenSet":"plain"}' });
    expect(countWhere('SELECT count(*) AS n FROM refresh_tokens WHERE successor_sealed IS NOT NULL')).toBe(0);
    // The rotated token itself stays (a late replay must still be recognised).
    expect(countWhere('SELECT count(*) AS n FROM refresh_tokens WHERE grant_id = ?', grantId)).toBe(1);
  });

  it('without the platform key file it changes nothing and says which file it needs', async () => {
    await seedSession(t, alice.did, -10);
    const { status, stderr } = await cli('purge');
    expect(status).toBe(1);
    expect(stderr).toContain(t.config.platformKeysFile);
    expect(stderr).toContain('PLATFORM_KEYS_FILE');
    expect(countWhere('SELECT count(*) AS n FROM sessions')).toBe(1);
  });
});

describe('status', () => {
  it('shows the database, its schema, row counts and keys', async () => {
    const { status, stdout } = await cli('status', '--json');
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      database_file: t.config.databaseFile,
      applied_migrations: readMigrations().map((m) => m.name),
      pending_migrations: [],
      users: 2,
      wikis: 2,
      clients: 1,
      keys: [],
    });
  });
});

describe('the CLI itself', () => {
  it('reads the configuration from --env-file; real environment variables win', async () => {
    const envFile = path.join(t.dir, 'robot-auth.env');
    fs.writeFileSync(envFile, `DATA_DIR=${t.dir}\nPORT=4000\n`);
    const capture = captureIo({ PORT: '5000' }, path.join(t.dir, 'elsewhere'));
    expect(await runCli(['wikis', 'list', '--json', '--env-file', envFile], capture.io)).toBe(0);
    expect(JSON.parse(capture.stdout())[0]).toMatchObject({ mcp_url: 'http://alice.localhost:5000/mcp' });
  });

  it('reads ./.env from its working directory when no --env-file is given', async () => {
    const cwd = path.join(t.dir, 'work');
    fs.mkdirSync(cwd);
    fs.writeFileSync(path.join(cwd, '.env'), `DATA_DIR=${t.dir}\n`);
    const capture = captureIo({}, cwd);
    expect(await runCli(['users', 'list', '--json'], capture.io)).toBe(0);
    expect(JSON.parse(capture.stdout())).toHaveLength(2);
  });

  it('fails with exit 1 and a plain message for a missing env file, a bad config or a missing database', async () => {
    const missingEnv = captureIo({}, t.dir);
    expect(await runCli(['users', 'list', '--env-file', path.join(t.dir, 'nope.env')], missingEnv.io)).toBe(1);
    expect(missingEnv.stderr()).toMatch(/Cannot read the env file/);
    const badConfig = captureIo({ DATA_DIR: t.dir, PORT: 'eighty' }, t.dir);
    expect(await runCli(['users', 'list'], badConfig.io)).toBe(1);
    expect(badConfig.stderr()).toMatch(/PORT: must be a positive integer/);
    const noDb = captureIo({ DATA_DIR: path.join(t.dir, 'empty') }, t.dir);
    expect(await runCli(['users', 'list'], noDb.io)).toBe(1);
    expect(noDb.stderr()).toMatch(/There is no database at .*empty\/robot-auth\.sqlite/);
    expect(fs.existsSync(path.join(t.dir, 'empty'))).toBe(false);
  });

  it('answers usage errors with exit 2: unknown command, unknown option, extra argument', async () => {
    for (const argv of [['frobnicate'], ['users', 'frobnicate'], ['users', 'list', '--colour'], ['users', 'list', 'extra'], ['purge', 'now']]) {
      const result = await cli(...argv);
      expect(result.status, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toMatch(/--help/);
    }
  });

  it('prints help for the whole, for a group and for each command, without touching the database', async () => {
    const overview = await cli('--help');
    expect(overview.status).toBe(0);
    for (const command of COMMANDS) expect(overview.stdout).toContain(command.name);
    expect((await cli('help')).stdout).toBe(overview.stdout);
    const group = await cli('keys', '--help');
    expect(group.status).toBe(0);
    expect(group.stdout).toMatch(/keys rotate[\s\S]*keys retire[\s\S]*keys generate/);
    expect(group.stdout).not.toContain('users list');
    for (const command of COMMANDS) {
      const help = await cli(...command.name.split(' '), '--help');
      expect(help.status, command.name).toBe(0);
      expect(help.stdout, command.name).toContain(`Usage: npm run admin -- ${command.name}`);
      expect(help.stdout, command.name).toContain('--env-file FILE');
    }
    const none = await cli();
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('Commands:');
  });

  it('refuses to work on a database whose schema is older than the code, but still backs it up', async () => {
    const old = tempData();
    try {
      old.db.close();
      fs.rmSync(old.config.databaseFile);
      const db = openDatabase(old.config.databaseFile);
      migrate(db, readMigrations().slice(0, 1));
      db.close();
      const capture = captureIo({ DATA_DIR: old.dir }, old.dir);
      expect(await runCli(['users', 'list'], capture.io)).toBe(1);
      const pending = readMigrations().slice(1).map((m) => m.name).join(', ');
      expect(capture.stderr()).toContain(`older than this code (pending: ${pending}). Restart the service`);
      const backup = captureIo({ DATA_DIR: old.dir }, old.dir);
      expect(await runCli(['backup', path.join(old.dir, 'before-upgrade.sqlite')], backup.io)).toBe(0);
      expect(fs.existsSync(path.join(old.dir, 'before-upgrade.sqlite'))).toBe(true);
    } finally {
      old.cleanup();
    }
  });

  it.runIf(process.getuid?.() === 0)('run as root, refuses a database that belongs to the service user', async () => {
    fs.chownSync(t.config.databaseFile, 12345, 12345);
    const { status, stderr } = await cli('users', 'list');
    expect(status).toBe(1);
    expect(stderr).toMatch(/belongs to uid 12345, not root\. Run the CLI as the service's user/);
    fs.chownSync(t.config.databaseFile, 0, 0);
  });
});

describe('node src/admin/cli.ts (a real process)', () => {
  const run = promisify(execFile);

  it('--help prints the commands and exits 0', async () => {
    const { stdout } = await run(process.execPath, [CLI, '--help'], { cwd: ROOT });
    expect(stdout).toContain('Usage: npm run admin -- <command> [options]');
    expect(stdout).toContain('backup verify FILE');
  });

  it('lists users as JSON from the environment, and exits 2 on an unknown command', async () => {
    const env = { PATH: process.env.PATH ?? '', DATA_DIR: t.dir };
    const { stdout } = await run(process.execPath, [CLI, 'users', 'list', '--json'], { cwd: t.dir, env });
    expect((JSON.parse(stdout) as { username: string }[]).map((u) => u.username)).toEqual(['alice', 'bob']);
    const failed = await run(process.execPath, [CLI, 'users', 'delete'], { cwd: t.dir, env }).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown command: users delete') });
  });
});
