// The operator learns of deletions (issue 14): `admin wikis deleted` and `admin users deleted`, run
// in-process through the real CLI against a database where a person deleted a wiki and another
// deleted their account.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/admin/program.ts';
import { deleteWikiForOwner } from '../../src/wikis/delete-wiki.ts';
import { createWikiForUser } from '../../src/wikis/create-wiki.ts';
import { createWikisRepo } from '../../src/wikis/wikis.repo.ts';
import { createUsersRepo } from '../../src/accounts/users.repo.ts';
import { deleteAccount } from '../../src/accounts/delete-account.ts';
import { createLogger } from '../../src/web/log.ts';
import { createAuditLog } from '../../src/audit/audit-log.ts';
import type { AppContext } from '../../src/context.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { captureIo } from '../support/cli-io.ts';
import { seedClient, seedGrant, seedUser, tempData, type TempData } from '../support/seed.ts';

let t: TempData;
beforeEach(() => {
  t = tempData();
});
afterEach(() => t.cleanup());

async function cli(...argv: string[]) {
  const capture = captureIo({ DATA_DIR: t.dir, LOG_LEVEL: 'silent' }, t.dir);
  const status = await runCli(argv, capture.io);
  return { status, stdout: capture.stdout(), stderr: capture.stderr() };
}

describe('admin wikis deleted / users deleted', () => {
  it('list what people deleted, with what the operator must do', async () => {
    const deps = {
      db: t.db,
      store: createSqliteStore(t.db, { closeDatabase: false }),
      wikis: createWikisRepo(t.db),
      users: createUsersRepo(t.db),
      config: { ...t.config, wikisPerUser: 3, newWikisPerDay: 1000, deletedSlugReserveDays: 30, deletedUsernameReserveDays: 90 },
      log: createLogger('silent'),
    };
    const alice = await seedUser(t, 'alice');
    const bob = await seedUser(t, 'bob');
    const clientId = await seedClient(t);
    expect((await createWikiForUser(deps, alice.did, 'alice-notes')).kind).toBe('created');
    await seedGrant(t, t.config, { did: alice.did, slug: 'alice-notes', clientId });
    expect(await deleteWikiForOwner(deps, alice.did, 'alice-notes', 'alice-notes')).toMatchObject({ kind: 'deleted', grantsRevoked: 1 });
    // No PDS here: the revocation there fails, the deletion goes ahead and says so.
    const atproto = { revoke: () => Promise.reject(new Error('unreachable')) } as unknown as AppContext['atproto'];
    const audit = createAuditLog({ store: deps.store, log: deps.log });
    expect(await deleteAccount({ ...deps, atproto, audit }, bob.did, 'bob')).toMatchObject({ kind: 'deleted', pdsRevoked: false });

    const wikis = await cli('wikis', 'deleted');
    expect(wikis.status).toBe(0);
    const lines = wikis.stdout.split('\n');
    expect(lines[0]).toMatch(/^SLUG\s+OWNER\s+OWNER DID\s+WHY\s+GRANTS REVOKED\s+DELETED$/);
    expect(wikis.stdout).toMatch(new RegExp(`alice-notes\\s+alice\\s+${alice.did}\\s+deleted by owner\\s+1\\s`));
    expect(wikis.stdout).toMatch(new RegExp(`bob\\s+bob\\s+${bob.did}\\s+account deleted\\s+0\\s`));

    const users = await cli('users', 'deleted', '--json');
    expect(users.status).toBe(0);
    expect(JSON.parse(users.stdout)).toEqual([expect.objectContaining({ username: 'bob', did: bob.did, wikis: 'bob', pds_revoked: false })]);
  });

  it('say so when nothing was deleted', async () => {
    expect((await cli('wikis', 'deleted')).stdout.trim()).toBe('No deleted wikis.');
    expect((await cli('users', 'deleted')).stdout.trim()).toBe('No deleted accounts.');
  });
});
