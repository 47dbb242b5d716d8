// "Delete my account" (issue 14, item 4). The rules, in order:
//  1. The person types their username to confirm; nothing happens otherwise.
//  2. The ATProto session is revoked at the PDS (RFC 7009 via the OAuth client) before anything is
//     deleted here; if the PDS cannot be reached, the deletion still goes ahead, the local copy of the
//     ATProto tokens is deleted, and the operator's record says so (pds_revoked = 0).
//  3. One transaction: every wiki is recorded in deleted_wikis and its grants revoked
//     (src/wikis/delete-wiki.ts), its slug held DELETED_USERNAME_RESERVE_DAYS for nobody; the username
//     is held as long for the same DID (the person may come back and take it again); other
//     reservations held for this DID are released to nobody; signup tickets and the ATProto session
//     are deleted; the users row is deleted, and with it (ON DELETE CASCADE) its sessions, grants,
//     codes and refresh tokens; the deletion is recorded in deleted_users.
//  4. The deletion is an audit event (account_deleted), written in the same transaction.
// Afterwards no row names the DID except the operator's record — deleted_users, deleted_wikis and the
// audit log, whose entries are deleted after AUDIT_RETENTION_DAYS like every other — and the
// username's reservation (test/account/account.e2e.test.ts checks every column of every table).
import type { AppContext } from '../context.ts';
import { nowSeconds } from '../db/open.ts';
// Until this file switches to the Store (branch store-accounts): the SQLite statements, synchronously.
import { removeWikiRow, reserveName } from '../storage/sqlite/wikis-admin.ts';

export type DeleteAccountOutcome =
  | { kind: 'deleted'; username: string; wikis: string[]; grantsRevoked: number; sessionsRevoked: number; pdsRevoked: boolean }
  | { kind: 'refused'; problem: string };

type Deps = Pick<AppContext, 'db' | 'config' | 'log' | 'atproto' | 'audit'>;

export async function deleteAccount(deps: Deps, did: string, confirmation: string, address?: string): Promise<DeleteAccountOutcome> {
  const user = deps.db.prepare<[string], { username: string; created_at: number }>('SELECT username, created_at FROM users WHERE did = ?').get(did);
  if (!user) return { kind: 'refused', problem: 'This account no longer exists.' };
  if (confirmation.trim().toLowerCase() !== user.username.toLowerCase()) {
    return { kind: 'refused', problem: `To delete your account, type your username "${user.username}" in the box.` };
  }

  let pdsRevoked = true;
  try {
    await (await deps.atproto.get()).revoke(did);
  } catch (err) {
    pdsRevoked = false;
    deps.log.warn({ did, err }, 'account deletion: could not revoke the ATProto session at the PDS; its local copy is deleted anyway');
  }

  const now = nowSeconds();
  const days = deps.config.deletedUsernameReserveDays;
  const outcome = deps.db
    .transaction(() => {
      const wikis = deps.db.prepare<[string], { slug: string; owner_did: string; created_at: number }>('SELECT slug, owner_did, created_at FROM wikis WHERE owner_did = ? ORDER BY slug').all(did);
      let grantsRevoked = 0;
      for (const wiki of wikis) {
        grantsRevoked += removeWikiRow(deps.db, { slug: wiki.slug, ownerDid: wiki.owner_did, createdAt: wiki.created_at }, user.username, 'account_deleted', now);
        if (wiki.slug !== user.username.toLowerCase()) reserveName(deps.db, wiki.slug, days, 'account_deleted', null, now);
      }
      // Grants on wikis of other people (none today: a grant is for the person's own wiki) go with the user row.
      grantsRevoked += deps.db
        .prepare<[number, string, number]>('UPDATE oauth_grants SET revoked_at = ? WHERE user_did = ? AND revoked_at IS NULL AND expires_at > ?')
        .run(now, did, now).changes;
      const sessionsRevoked = deps.db
        .prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM sessions WHERE did = ? AND revoked_at IS NULL AND expires_at > ?')
        .get(did, now)!.n;
      deps.db.prepare<[string]>('UPDATE reserved_names SET held_for_did = NULL WHERE held_for_did = ?').run(did);
      reserveName(deps.db, user.username, days, 'account_deleted', did, now);
      deps.db.prepare<[string]>('DELETE FROM sign_in_tickets WHERE did = ?').run(did);
      deps.db.prepare<[string]>('DELETE FROM atproto_sessions WHERE did = ?').run(did);
      deps.db.prepare<[string]>('DELETE FROM users WHERE did = ?').run(did);
      deps.db
        .prepare<[string, string, number, number, string, number, number, number]>(
          `INSERT INTO deleted_users (did, username, created_at, deleted_at, wikis, grants_revoked, sessions_revoked, pds_revoked)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(did, user.username, user.created_at, now, wikis.map((w) => w.slug).join(','), grantsRevoked, sessionsRevoked, pdsRevoked ? 1 : 0);
      deps.audit.record({
        event: 'account_deleted',
        did,
        actor: 'person',
        address: address ?? null,
        detail: { username: user.username, wikis: wikis.map((w) => w.slug).join(','), grants_revoked: grantsRevoked, pds_revoked: pdsRevoked },
      });
      return { wikis: wikis.map((w) => w.slug), grantsRevoked, sessionsRevoked };
    })
    .immediate();

  deps.log.warn(
    { did, username: user.username, wikis: outcome.wikis, grantsRevoked: outcome.grantsRevoked, pdsRevoked, reservedDays: days },
    `account "${user.username}" deleted by its owner: sessions and grants revoked, user and wiki rows deleted. ` +
      'Remove the content of its wikis from the wiki app (`admin users deleted`, `admin wikis deleted`).',
  );
  return { kind: 'deleted', username: user.username, ...outcome, pdsRevoked };
}
