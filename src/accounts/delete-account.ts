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
// Rule 3's transaction is a store transaction (src/storage/store.ts) that uses only its `tx` and
// returns what the log line needs; the PDS revocation (network) stays before it, outside.
import type { AppContext } from '../context.ts';
import type { AuditEvent } from '../audit/audit-log.ts';
import { nowSeconds } from '../db/open.ts';

export type DeleteAccountOutcome =
  | { kind: 'deleted'; username: string; wikis: string[]; grantsRevoked: number; sessionsRevoked: number; pdsRevoked: boolean }
  | { kind: 'refused'; problem: string };

type Deps = Pick<AppContext, 'store' | 'config' | 'log' | 'atproto' | 'audit'>;

const GONE = 'This account no longer exists.';

export async function deleteAccount(deps: Deps, did: string, confirmation: string, address?: string): Promise<DeleteAccountOutcome> {
  const user = await deps.store.repos.users.findByDid(did);
  if (!user) return { kind: 'refused', problem: GONE };
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
  const outcome = await deps.store.transaction(async (tx) => {
    // Read again, locked: a concurrent deletion (another tab, another instance) waits here, then finds it done.
    const current = await tx.users.findByDidForUpdate(did);
    if (!current) return undefined;
    const wikis = (await tx.wikis.listByOwner(did)).sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
    let grantsRevoked = 0;
    for (const wiki of wikis) {
      grantsRevoked += await tx.wikis.remove(wiki, current.username, 'account_deleted', now);
      if (wiki.slug !== current.username.toLowerCase()) await tx.reservedNames.reserve(wiki.slug, days, 'account_deleted', null, now);
    }
    // Grants on wikis of other people (none today: a grant is for the person's own wiki) go with the user row.
    grantsRevoked += await tx.grants.markRevokedForUser(did, now);
    const sessionsRevoked = await tx.sessions.countLive(did);
    await tx.reservedNames.releaseHeldFor(did);
    await tx.reservedNames.reserve(current.username, days, 'account_deleted', did, now);
    await tx.tickets.deleteForDid(did);
    await tx.atprotoSessions.del(did);
    await tx.users.delete(did);
    const slugs = wikis.map((w) => w.slug);
    await tx.users.recordDeletion({ did, username: current.username, createdAt: current.createdAt, deletedAt: now, wikis: slugs, grantsRevoked, sessionsRevoked, pdsRevoked });
    const event: AuditEvent = {
      event: 'account_deleted',
      did,
      actor: 'person',
      address: address ?? null,
      detail: { username: current.username, wikis: slugs.join(','), grants_revoked: grantsRevoked, pds_revoked: pdsRevoked },
    };
    return { username: current.username, wikis: slugs, grantsRevoked, sessionsRevoked, audit: { event, stored: await deps.audit.insertIn(tx, event) } };
  });
  if (!outcome) return { kind: 'refused', problem: GONE };

  deps.audit.announce(outcome.audit.event, outcome.audit.stored);
  deps.log.warn(
    { did, username: outcome.username, wikis: outcome.wikis, grantsRevoked: outcome.grantsRevoked, pdsRevoked, reservedDays: days },
    `account "${outcome.username}" deleted by its owner: sessions and grants revoked, user and wiki rows deleted. ` +
      'Remove the content of its wikis from the wiki app (`admin users deleted`, `admin wikis deleted`).',
  );
  return { kind: 'deleted', username: outcome.username, wikis: outcome.wikis, grantsRevoked: outcome.grantsRevoked, sessionsRevoked: outcome.sessionsRevoked, pdsRevoked };
}
