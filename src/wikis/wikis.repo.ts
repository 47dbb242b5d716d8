import type { Db } from '../db/open.ts';

export interface Wiki {
  slug: string;
  ownerDid: string;
  createdAt: number;
}

interface WikiRow {
  slug: string;
  owner_did: string;
  created_at: number;
}

const toWiki = (r: WikiRow): Wiki => ({ slug: r.slug, ownerDid: r.owner_did, createdAt: r.created_at });

export type WikisRepo = ReturnType<typeof createWikisRepo>;

export function createWikisRepo(db: Db) {
  const bySlug = db.prepare<[string], WikiRow>('SELECT * FROM wikis WHERE slug = ?');
  const byOwner = db.prepare<[string], WikiRow>('SELECT * FROM wikis WHERE owner_did = ? ORDER BY created_at, slug');
  return {
    findBySlug(slug: string): Wiki | undefined {
      const row = bySlug.get(slug);
      return row && toWiki(row);
    },
    listByOwner(did: string): Wiki[] {
      return byOwner.all(did).map(toWiki);
    },
  };
}
