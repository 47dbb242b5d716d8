// Deleting a wiki from the account page (issue 14). The rules:
//  1. Only its owner, and only after typing its slug (the form's confirmation).
//  2. In one transaction: every grant bound to the wiki is revoked (its refresh tokens deleted; the
//     resource refuses its access tokens from the next request, as the grant row is gone), the
//     registry row is deleted, the slug is held per DELETED_SLUG_RESERVE_DAYS for the owner
//     (src/wikis/reserved-names.ts), and the deletion is recorded in deleted_wikis.
//  3. The wiki's content lives in the wiki app, which this service does not call: the operator
//     learns of it from `admin wikis deleted` and the warn-level log line, and removes the content.
// Storage: one Store transaction (src/storage/store.ts rules 1–5). It takes the wiki-creation lock
// first (`wikis.lockCreation()`), so on PostgreSQL a deletion and a creation, or two deletions of one
// wiki, on several instances run one after the other: the second deletion finds no wiki (404) instead
// of recording it twice, and a creation of the same name sees the reservation. The warn line after commit.
import type { AppContext } from '../context.ts';

export type DeleteWikiOutcome =
  | { kind: 'deleted'; slug: string; grantsRevoked: number }
  | { kind: 'refused'; problem: string; status: 400 | 404 };

export async function deleteWikiForOwner(
  deps: Pick<AppContext, 'store' | 'config' | 'log'>,
  did: string,
  slugInput: string,
  confirmation: string,
): Promise<DeleteWikiOutcome> {
  const slug = slugInput.trim().toLowerCase();
  const outcome = await deps.store.transaction(async (tx): Promise<DeleteWikiOutcome> => {
    await tx.wikis.lockCreation();
    const wiki = await tx.wikis.findBySlug(slug);
    if (!wiki || wiki.ownerDid !== did) return { kind: 'refused', problem: 'You have no wiki by that name.', status: 404 };
    if (confirmation.trim().toLowerCase() !== wiki.slug) {
      return { kind: 'refused', problem: `To delete the wiki, type its name "${wiki.slug}" in the box.`, status: 400 };
    }
    const owner = await tx.users.findByDid(did);
    const grantsRevoked = await tx.wikis.remove(wiki, owner?.username ?? '', 'owner');
    await tx.reservedNames.reserve(wiki.slug, deps.config.deletedSlugReserveDays, 'wiki_deleted', did);
    return { kind: 'deleted', slug: wiki.slug, grantsRevoked };
  });
  if (outcome.kind === 'deleted') {
    deps.log.warn(
      { did, slug: outcome.slug, grantsRevoked: outcome.grantsRevoked, reservedDays: deps.config.deletedSlugReserveDays },
      `wiki "${outcome.slug}" deleted by its owner: its grants are revoked and its registry row is gone. ` +
        'Remove its content from the wiki app (`admin wikis deleted` lists every deleted wiki).',
    );
  }
  return outcome;
}
