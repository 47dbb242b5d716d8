// Row pools for the bench: fresh refresh tokens and authorization codes inserted into the app's
// database (only their hashes, as the app stores them) with their values handed back as ready
// /token request bodies, and access tokens minted as the token endpoint mints them.
import crypto from 'node:crypto';
import type { AppContext } from '../../src/context.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { randomToken, sha256Hex } from '../../src/lib/secrets.ts';
import { signAccessToken, type AccessTokenInput } from '../../src/oauth/tokens/access-token.ts';
import { BENCH_CODE_VERIFIER, type AccessTokenForWiki } from './protocol.ts';
import { clientId, grantClient, grantId, grantUser, REDIRECT_URI, SCOPE, userDid, wikiHost, wikiResource, wikiSlug, type Scale } from './seed.ts';

/** A prime: k ↦ (k·STRIDE + offset) mod grants visits every grant before repeating (grants is never a multiple of it). */
const STRIDE = 104_729;

export function accessTokenInput(scale: Scale, g: number): AccessTokenInput {
  const u = grantUser(scale, g);
  return { did: userDid(u), resource: wikiResource(u), clientId: clientId(grantClient(scale, g)), scope: SCOPE, grantId: grantId(g) };
}

export function createPools(ctx: AppContext, scale: Scale) {
  let nextRefresh = 0;
  let nextCode = 0;
  let nextAccess = 0;
  const grantAt = (k: number): number => (k * STRIDE + 7) % scale.grants;
  const insertRefresh = ctx.db.prepare('INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)');
  const insertCode = ctx.db.prepare(
    `INSERT INTO authorization_codes
       (hash, client_id, user_did, wiki_slug, redirect_uri, redirect_uri_sent, code_challenge, resource, scope, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)`,
  );
  const challenge = crypto.createHash('sha256').update(BENCH_CODE_VERIFIER).digest('base64url');
  const enc = encodeURIComponent;
  return {
    refreshPool(count: number): string[] {
      const now = nowSeconds();
      const bodies: string[] = [];
      ctx.db.transaction(() => {
        for (let i = 0; i < count; i++) {
          const g = grantAt(nextRefresh++);
          const value = randomToken(32);
          insertRefresh.run(sha256Hex(value), grantId(g), now, now + ctx.config.refreshTokenTtlSeconds);
          const client = clientId(grantClient(scale, g));
          const resource = wikiResource(grantUser(scale, g));
          bodies.push(`grant_type=refresh_token&refresh_token=${value}&client_id=${enc(client)}&resource=${enc(resource)}`);
        }
      })();
      return bodies;
    },
    codePool(count: number): string[] {
      const now = nowSeconds();
      const bodies: string[] = [];
      ctx.db.transaction(() => {
        for (let i = 0; i < count; i++) {
          // Codes are for users spread over the database, each with a client of theirs.
          const g = grantAt(nextCode++ + 1_000_003);
          const u = grantUser(scale, g);
          const client = clientId(grantClient(scale, g));
          const value = randomToken(32);
          // An hour instead of the real 60 s: the pool must outlive the run that uses it.
          insertCode.run(sha256Hex(value), client, userDid(u), wikiSlug(u), REDIRECT_URI, challenge, wikiResource(u), SCOPE, now, now + 3600);
          bodies.push(
            `grant_type=authorization_code&code=${value}&code_verifier=${BENCH_CODE_VERIFIER}&client_id=${enc(client)}` +
              `&redirect_uri=${enc(REDIRECT_URI)}&resource=${enc(wikiResource(u))}`,
          );
        }
      })();
      return bodies;
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

export type Pools = ReturnType<typeof createPools>;
