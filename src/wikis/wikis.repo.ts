import type { Db } from '../db/open.ts';

export interface Wiki {
  slug: string;
  ownerDid: string;
  createdAt: number;
}

/** The stored row, and its mapping; both stores read it (src/storage/postgres/repositories.ts too). */
export interface WikiRow {
  slug: string;
  owner_did: string;
  created_at: number;
}

export const toWiki = (r: WikiRow): Wiki => ({ slug: r.slug, ownerDid: r.owner_did, createdAt: r.created_at });

export type WikisRepo = ReturnType<typeof createWikisRepo>;

export function createWikisRepo(db: Db) {
  const bySlug = db.prepare<[string], WikiRow>('SELECT * FROM wikis WHERE slug = ?');
  const byOwner = db.prepare<[string], WikiRow>('SELECT * FROM wikis WHERE owner_did = ? ORDER BY created_at, slug');
  const countOwned = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM wikis WHERE owner_did = ?');
  const insertWiki = db.prepare<[string, string, number]>("INSERT INTO wikis (slug, owner_did, created_at, created_by) VALUES (?, ?, ?, 'signup')");
  return {
    findBySlug(slug: string): Wiki | undefined {
      const row = bySlug.get(slug);
      return row && toWiki(row);
    },
    listByOwner(did: string): Wiki[] {
      return byOwner.all(did).map(toWiki);
    },
    countByOwner(did: string): number {
      return countOwned.get(did)!.n;
    },
    /** A wiki a person created (counted against NEW_WIKIS_PER_DAY); throws a unique violation when the slug is taken. */
    insertCreatedByPerson(slug: string, ownerDid: string, createdAt: number): void {
      insertWiki.run(slug, ownerDid, createdAt);
    },
  };
}
