// Review finding (low): the database password could leak. `redactUrl` (src/db/postgres/pool.ts) hid
// only the password of the URL's user part, while `pg` also takes `?password=` (and `sslpassword`,
// `sslkey`, `passfile` unlock or point at key material): those were logged and printed as they were.
// And `migrate-to-postgres --to URL` was the only way to name the target, so the password sat on the
// command line (ps, shell history): the target may now come from --to-env NAME or DATABASE_URL.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/admin/program.ts';
import { redactUrl } from '../../src/db/postgres/pool.ts';
import { captureIo } from '../support/cli-io.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { seedUser, tempData, type TempData } from '../support/seed.ts';

describe('redactUrl', () => {
  it('hides the password wherever pg reads one: user part and secret query parameters', () => {
    const url = 'postgres://robot:userpw@db.internal:5432/robot_auth?sslmode=require&password=qpw&sslpassword=sslpw&sslkey=%2Fetc%2Fkey.pem&PassFile=%2Froot%2F.pgpass';
    const shown = redactUrl(url);
    for (const secret of ['userpw', 'qpw', 'sslpw', 'key.pem', '.pgpass']) expect(shown).not.toContain(secret);
    expect(shown).toBe('postgres://robot:***@db.internal:5432/robot_auth?sslmode=require&password=***&sslpassword=***&sslkey=***&PassFile=***');
  });

  it('keeps a URL without secrets as it is', () => {
    expect(redactUrl('postgres://robot@db.internal/robot_auth?sslmode=verify-full')).toBe('postgres://robot@db.internal/robot_auth?sslmode=verify-full');
  });
});

describe('migrate-to-postgres and the password', () => {
  let t: TempData;
  beforeEach(() => {
    t = tempData();
  });
  afterEach(() => t.cleanup());

  async function cli(env: Record<string, string>, ...argv: string[]) {
    const capture = captureIo({ DATA_DIR: t.dir, LOG_LEVEL: 'silent', ...env }, t.dir);
    const status = await runCli(argv, capture.io);
    return { status, stdout: capture.stdout(), stderr: capture.stderr() };
  }

  it('never prints a ?password= when the server is unreachable', async () => {
    const { status, stderr } = await cli({ TARGET: 'postgres://u@127.0.0.1:1/none?password=hunter2&sslpassword=hunter3' }, 'migrate-to-postgres', '--to-env', 'TARGET');
    expect(status).toBe(1);
    expect(stderr).toMatch(/^Cannot connect to PostgreSQL at postgres:\/\/u@127\.0\.0\.1:1\/none\?password=\*\*\*&sslpassword=\*\*\*: /);
    expect(stderr).not.toMatch(/hunter/);
  });

  it('says what is missing when --to-env names an unset variable, and refuses --to with --to-env', async () => {
    const unset = await cli({}, 'migrate-to-postgres', '--to-env', 'NOPE');
    expect(unset.status).toBe(1);
    expect(unset.stderr).toContain('--to-env NOPE: the environment variable NOPE is not set');
    const both = await cli({ X: 'postgres://a@b/c' }, 'migrate-to-postgres', '--to', 'postgres://a@b/c', '--to-env', 'X');
    expect(both.status).toBe(1);
    expect(both.stderr).toBe('Give --to or --to-env, not both.');
    const none = await cli({}, 'migrate-to-postgres');
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('Name the PostgreSQL database: set DATABASE_URL (or --to-env NAME)');
  });

  describe('against a real server', () => {
    let server: TestPostgres;
    beforeAll(async () => {
      server = await startPostgres();
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('copies into the database --to-env names, and into DATABASE_URL without any option', async () => {
      await seedUser(t, 'alice');
      const viaName = await server.createDatabase();
      const first = await cli({ ROBOT_AUTH_PG_TARGET: viaName }, 'migrate-to-postgres', '--to-env', 'ROBOT_AUTH_PG_TARGET');
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      expect(first.stdout).toContain('verified: every table has the same rows on both sides.');
      const viaDatabaseUrl = await server.createDatabase();
      const second = await cli({ DATABASE_URL: viaDatabaseUrl }, 'migrate-to-postgres');
      expect(second.stderr).toBe('');
      expect(second.status).toBe(0);
      expect(second.stdout).toContain(`to ${viaDatabaseUrl} in one transaction`);
    });
  });
});
