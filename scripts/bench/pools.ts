// Row pools for the bench: fresh refresh tokens and authorization codes inserted into the app's
// database (only their hashes, as the app stores them) with their values handed back as ready
// /token request bodies, and access tokens minted as the token endpoint mints them. The same rows
// go into SQLite (createPools, through the app's connection) or PostgreSQL (createPostgresPools, in
// bulk through a pool of the bench's own: `npm run bench -- --stores=postgres`).
import crypto from 'node:crypto';
import type { AppContext } from '../../src/context.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { inTransaction, type PgPool } from '../../src/db/postgres/pool.ts';
import { randomToken, sha256Hex } from '../../src/lib/secrets.ts';
import { signAccessToken, type AccessTokenInput } from '../../src/oauth/tokens/access-token.ts';
import { newRefreshTokenValue, refreshTokenHash } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { BENCH_CODE_VERIFIER, type AccessTokenForWiki } from './protocol.ts';
import { clientId, grantClient, grantId, grantUser, REDIRECT_URI, SCOPE, userDid, wikiHost, wikiResource, wikiSlug, type Scale } from './seed.ts';

/** A prime: k ↦ (k·STRIDE + offset) mod grants visits every grant before repeating (grants is never a multiple of it). */
const STRIDE = 104_729;

export function accessTokenInput(scale: Scale, g: number): AccessTokenInput {
  const u = grantUser(scale, g);
  return { did: userDid(u), resource: wikiResource(u), clientId: clientId(grantClient(scale, g)), scope: SCOPE, grantId: grantId(g) };
}

type RefreshRow = [hash: string, grantId: string, createdAt: number, expiresAt: number];
type CodeRow = [hash: string, clientId: string, userDid: string, wikiSlug: string, redirectUri: string, codeChallenge: string, resource: string, scope: string, createdAt: number, expiresAt: number];

/** The rows and request bodies of each pool, whichever database they go into. */
function poolRows(ctx: Pick<AppContext, 'config' | 'platformKeys'>, scale: Scale) {
  let nextRefresh = 0;
  let nextCode = 0;
  let nextAccess = 0;
  const grantAt = (k: number): number => (k * STRIDE + 7) % scale.grants;
  const challenge = crypto.createHash('sha256').update(BENCH_CODE_VERIFIER).digest('base64url');
  const enc = encodeURIComponent;
  return {
    refresh(count: number): { rows: RefreshRow[]; bodies: string[] } {
      const now = nowSeconds();
      const rows: RefreshRow[] = [];
      const bodies: string[] = [];
      for (let i = 0; i < count; i++) {
        const g = grantAt(nextRefresh++);
        const value = newRefreshTokenValue();
        rows.push([refreshTokenHash(value), grantId(g), now, now + ctx.config.refreshTokenTtlSeconds]);
        const client = clientId(grantClient(scale, g));
        const resource = wikiResource(grantUser(scale, g));
        bodies.push(`grant_type=refresh_token&refresh_token=${value}&client_id=${enc(client)}&resource=${enc(resource)}`);
      }
      return { rows, bodies };
    },
    code(count: number): { rows: CodeRow[]; bodies: string[] } {
      const now = nowSeconds();
      const rows: CodeRow[] = [];
      const bodies: string[] = [];
      for (let i = 0; i < count; i++) {
        // Codes are for users spread over the database, each with a client of theirs.
        const g = grantAt(nextCode++ + 1_000_003);
        const u = grantUser(scale, g);
        const client = clientId(grantClient(scale, g));
        const value = randomToken(32);
        // An hour instead of the real 60 s: the pool must outlive the run that uses it.
        rows.push([sha256Hex(value), client, userDid(u), wikiSlug(u), REDIRECT_URI, challenge, wikiResource(u), SCOPE, now, now + 3600]);
        bodies.push(
          `grant_type=authorization_code&code=${value}&code_verifier=${BENCH_CODE_VERIFIER}&client_id=${enc(client)}` +
            `&redirect_uri=${enc(REDIRECT_URI)}&resource=${enc(wikiResource(u))}`,
        );
      }
      return { rows, bodies };
    },
    async accessTokens(count: number): Promise<AccessTokenForWiki[]> {
      const tokens: AccessTokenForWiki[] = [];
      for (let i = 0; i < count; i++) {
        const g = grantAt(nextAccess++ + 2_000_003);
        const issued = await signAccessToken({ config: ctx.config, keys: ctx.platformKeys }, accessTokenInput(scale, g));
        tokens.push({ token: issued.token, host: wikiHost(grantUser(scale, g)) });
      }
      return tokens;
    },
  };
}

/** SQLite: the rows go in through the app's own connection (`ctx.sqlite`). */
export function createPools(ctx: AppContext, scale: Scale) {
  const rows = poolRows(ctx, scale);
  if (!ctx.sqlite) throw new Error('createPools is for the SQLite store (createPostgresPools for PostgreSQL)');
  const db = ctx.sqlite.db;
  const insertRefresh = db.prepare('INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)');
  const insertCode = db.prepare(
    `INSERT INTO authorization_codes
       (hash, client_id, user_did, wiki_slug, redirect_uri, redirect_uri_sent, code_challenge, resource, scope, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)`,
  );
  return {
    refreshPool(count: number): string[] {
      const made = rows.refresh(count);
      db.transaction(() => {
        for (const row of made.rows) insertRefresh.run(...row);
      })();
      return made.bodies;
    },
    codePool(count: number): string[] {
      const made = rows.code(count);
      db.transaction(() => {
        for (const row of made.rows) insertCode.run(...row);
      })();
      return made.bodies;
    },
    accessTokens: rows.accessTokens,
  };
}

export type Pools = ReturnType<typeof createPools>;

/** Rows per INSERT … SELECT FROM unnest(…) statement. */
const PG_BATCH = 5000;

/** The same pools on PostgreSQL: the rows go in through `pool` (not the app's), in one transaction per pool. */
export function createPostgresPools(pool: PgPool, ctx: Pick<AppContext, 'config' | 'platformKeys'>, scale: Scale) {
  const rows = poolRows(ctx, scale);
  /** Column-wise arrays for unnest: one parameter per column, whatever the row count. */
  const columns = <R extends unknown[]>(batch: R[]): unknown[][] => (batch[0] ?? []).map((_, i) => batch.map((r) => r[i]));
  async function insertAll<R extends unknown[]>(sql: string, all: R[]): Promise<void> {
    await inTransaction(pool, async (client) => {
      for (let i = 0; i < all.length; i += PG_BATCH) await client.query(sql, columns(all.slice(i, i + PG_BATCH)));
    });
  }
  return {
    async refreshPool(count: number): Promise<string[]> {
      const made = rows.refresh(count);
      await insertAll(
        `INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])`,
        made.rows,
      );
      return made.bodies;
    },
    async codePool(count: number): Promise<string[]> {
      const made = rows.code(count);
      await insertAll(
        `INSERT INTO authorization_codes
           (hash, client_id, user_did, wiki_slug, redirect_uri, code_challenge, resource, scope, created_at, expires_at, redirect_uri_sent)
         SELECT *, 1 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[])`,
        made.rows,
      );
      return made.bodies;
    },
    accessTokens: rows.accessTokens,
  };
}
