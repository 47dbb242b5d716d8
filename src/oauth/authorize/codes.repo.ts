// Authorization codes (OAuth 2.1 §4.1.2): random, single use, short-lived, stored hashed, bound to
// client, redirect URI, PKCE challenge, resource, scopes and user.
import type { Db } from '../../db/open.ts';
import { nowSeconds } from '../../db/open.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import { AUTHORIZATION_CODE_TTL_SECONDS } from '../../lifetimes.ts';

export interface AuthorizationCode {
  hash: string;
  clientId: string;
  userDid: string;
  wikiSlug: string;
  redirectUri: string;
  redirectUriSent: boolean;
  codeChallenge: string;
  resource: string;
  scope: string;
  expiresAt: number;
  consumedAt: number | null;
  grantId: string | null;
}

/** The stored row, and its mapping; both stores read it (src/storage/postgres/repositories.ts too). */
export interface CodeRow {
  hash: string;
  client_id: string;
  user_did: string;
  wiki_slug: string;
  redirect_uri: string;
  /** 0/1 on SQLite; an integer or a boolean column on PostgreSQL. */
  redirect_uri_sent: number | boolean;
  code_challenge: string;
  resource: string;
  scope: string;
  expires_at: number;
  consumed_at: number | null;
  grant_id: string | null;
}

export const toCode = (r: CodeRow): AuthorizationCode => ({
  hash: r.hash,
  clientId: r.client_id,
  userDid: r.user_did,
  wikiSlug: r.wiki_slug,
  redirectUri: r.redirect_uri,
  redirectUriSent: r.redirect_uri_sent === 1 || r.redirect_uri_sent === true,
  codeChallenge: r.code_challenge,
  resource: r.resource,
  scope: r.scope,
  expiresAt: r.expires_at,
  consumedAt: r.consumed_at,
  grantId: r.grant_id,
});

type CodeInsertValues = [string, string, string, string, string, number, string, string, string, number, number];

/**
 * A new code: its value (given to the client once) and the values of its row, in the column order of
 * the INSERT below (both stores). Only the hash is stored; it expires AUTHORIZATION_CODE_TTL_SECONDS on.
 */
export function newCodeRow(code: Omit<AuthorizationCode, 'hash' | 'expiresAt' | 'consumedAt' | 'grantId'>): { value: string; values: CodeInsertValues } {
  const value = randomToken(32);
  const now = nowSeconds();
  return {
    value,
    values: [
      sha256Hex(value),
      code.clientId,
      code.userDid,
      code.wikiSlug,
      code.redirectUri,
      code.redirectUriSent ? 1 : 0,
      code.codeChallenge,
      code.resource,
      code.scope,
      now,
      now + AUTHORIZATION_CODE_TTL_SECONDS,
    ],
  };
}

export type CodesRepo = ReturnType<typeof createCodesRepo>;

export function createCodesRepo(db: Db) {
  const insert = db.prepare<CodeInsertValues>(
    `INSERT INTO authorization_codes
       (hash, client_id, user_did, wiki_slug, redirect_uri, redirect_uri_sent, code_challenge, resource, scope, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byHash = db.prepare<[string], CodeRow>('SELECT * FROM authorization_codes WHERE hash = ?');
  const consume = db.prepare<[number, string, string]>('UPDATE authorization_codes SET consumed_at = ?, grant_id = ? WHERE hash = ? AND consumed_at IS NULL');
  return {
    /** Returns the code's value; only its hash is stored. */
    insert(code: Omit<AuthorizationCode, 'hash' | 'expiresAt' | 'consumedAt' | 'grantId'>): string {
      const { value, values } = newCodeRow(code);
      insert.run(...values);
      return value;
    },
    findByValue(value: string): AuthorizationCode | undefined {
      const row = byHash.get(sha256Hex(value));
      return row && toCode(row);
    },
    /** Marks the code used by `grantId`; false when another request used it first. */
    consume(hash: string, grantId: string): boolean {
      return consume.run(nowSeconds(), grantId, hash).changes === 1;
    },
  };
}
