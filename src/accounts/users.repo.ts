import type { Db } from '../db/open.ts';
import { nowSeconds } from '../db/open.ts';

export interface User {
  did: string;
  handle: string;
  displayName: string | null;
  username: string;
  createdAt: number;
  lastLoginAt: number;
}

/** The stored row, and its mapping; both stores read it (src/storage/postgres/repositories.ts too). */
export interface UserRow {
  did: string;
  handle: string;
  display_name: string | null;
  username: string;
  created_at: number;
  last_login_at: number;
}

export const toUser = (r: UserRow): User => ({
  did: r.did,
  handle: r.handle,
  displayName: r.display_name,
  username: r.username,
  createdAt: r.created_at,
  lastLoginAt: r.last_login_at,
});

export type UsersRepo = ReturnType<typeof createUsersRepo>;

export function createUsersRepo(db: Db) {
  const byDid = db.prepare<[string], UserRow>('SELECT * FROM users WHERE did = ?');
  const byUsername = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const updateLogin = db.prepare<[string, string | null, number, string]>(
    'UPDATE users SET handle = ?, display_name = ?, last_login_at = ? WHERE did = ?',
  );
  const insertUser = db.prepare<[string, string, string | null, string, number, number]>(
    'INSERT INTO users (did, handle, display_name, username, created_at, last_login_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const insertWiki = db.prepare<[string, string, number]>('INSERT INTO wikis (slug, owner_did, created_at) VALUES (?, ?, ?)');

  return {
    findByDid(did: string): User | undefined {
      const row = byDid.get(did);
      return row && toUser(row);
    },
    findByUsername(username: string): User | undefined {
      const row = byUsername.get(username);
      return row && toUser(row);
    },
    /** Refreshes what the PDS told us at sign-in; returns the updated user or undefined if unknown. */
    recordLogin(did: string, handle: string, displayName: string | null): User | undefined {
      updateLogin.run(handle, displayName, nowSeconds(), did);
      return this.findByDid(did);
    },
    /**
     * Creates the user and their first wiki (slug = username) in one transaction.
     * Returns 'taken' when the name (or the wiki slug) already exists, including when another
     * request won a race for it.
     */
    insertWithFirstWiki(input: { did: string; handle: string; displayName: string | null; username: string }): User | 'taken' {
      const now = nowSeconds();
      try {
        db.transaction(() => {
          insertUser.run(input.did, input.handle, input.displayName, input.username, now, now);
          insertWiki.run(input.username, input.did, now);
        }).immediate();
      } catch (err) {
        if (isUniqueViolation(err)) return 'taken';
        throw err;
      }
      return this.findByDid(input.did)!;
    },
  };
}

export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
