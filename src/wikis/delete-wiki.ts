// Deleting a wiki from the account page (issue 14). The rules:
//  1. Only its owner, and only after typing its slug (the form's confirmation).
//  2. In one transaction: every grant bound to the wiki is revoked (its refresh tokens deleted; the
//     resource refuses its access tokens from the next request, as the grant row is gone), the
//     registry row is deleted, the slug is held per DELETED_SLUG_RESERVE_DAYS for the owner
//     (src/wikis/reserved-names.ts), and the deletion is recorded in deleted_wikis.
//  3. The wiki's content lives in the wiki app, which this service does not call: the operator
//     learns of it from `admin wikis deleted` and the warn-level log line, and removes the content.
import type { AppContext } from '../context.ts';
import { nowSeconds, type Db } from '../db/open.ts';
import { reserveName } from './reserved-names.ts';

export type DeleteWikiOutcome =
  | { kind: 'deleted'; slug: string; grantsRevoked: number }
  | { kind: 'refused'; problem: string; status: 400 | 404 };

interface WikiRow {
  slug: string;
  owner_did: string;
  created_at: number;
}

/**
 * Revokes every live grant of the wiki, records it in deleted_wikis and deletes its row (the
 * grants, codes and refresh tokens go with it by ON DELETE CASCADE). Run inside a transaction.
 */
export function removeWikiRow(
  db: Db,
  wiki: WikiRow,
  ownerUsername: string,
  reason: 'owner' | 'account_deleted',
  now = nowSeconds(),
): number {
  const revoked = db
    .prepare<[number, string, number]>('UPDATE oauth_grants SET revoked_at = ? WHERE wiki_slug = ? AND revoked_at IS NULL AND expires_at > ?')
    .run(now, wiki.slug, now).changes;
  db.prepare<[string]>('DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM oauth_grants WHERE wiki_slug = ?)').run(wiki.slug);
  db.prepare<[string, string, string, number, number, string, number]>(
    'INSERT INTO deleted_wikis (slug, owner_did, owner_username, created_at, deleted_at, reason, grants_revoked) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(wiki.slug, wiki.owner_did, ownerUsername, wiki.created_at, now, reason, revoked);
  db.prepare<[string]>('DELETE FROM wikis WHERE slug = ?').run(wiki.slug);
  return revoked;
}

export function deleteWikiForOwner(
  deps: Pick<AppContext, 'db' | 'config' | 'log'>,
  did: string,
  slugInput: string,
  confirmation: string,
): DeleteWikiOutcome {
  const slug = slugInput.trim().toLowerCase();
  const outcome = deps.db
    .transaction((): DeleteWikiOutcome => {
      const wiki = deps.db.prepare<[string, string], WikiRow>('SELECT slug, owner_did, created_at FROM wikis WHERE slug = ? AND owner_did = ?').get(slug, did);
      if (!wiki) return { kind: 'refused', problem: 'You have no wiki by that name.', status: 404 };
      if (confirmation.trim().toLowerCase() !== wiki.slug) {
        return { kind: 'refused', problem: `To delete the wiki, type its name "${wiki.slug}" in the box.`, status: 400 };
      }
      const owner = deps.db.prepare<[string], { username: string }>('SELECT username FROM users WHERE did = ?').get(did);
      const grantsRevoked = removeWikiRow(deps.db, wiki, owner?.username ?? '', 'owner');
      reserveName(deps, wiki.slug, deps.config.deletedSlugReserveDays, 'wiki_deleted', did);
      return { kind: 'deleted', slug: wiki.slug, grantsRevoked };
    })
    .immediate();
  if (outcome.kind === 'deleted') {
    deps.log.warn(
      { did, slug: outcome.slug, grantsRevoked: outcome.grantsRevoked, reservedDays: deps.config.deletedSlugReserveDays },
      `wiki "${outcome.slug}" deleted by its owner: its grants are revoked and its registry row is gone. ` +
        'Remove its content from the wiki app (`admin wikis deleted` lists every deleted wiki).',
    );
  }
  return outcome;
}
