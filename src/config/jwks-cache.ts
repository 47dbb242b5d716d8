// How long the JWKS documents we publish may be cached, and when a new key may therefore sign
// (RFC 7517 key sets; RFC 9111 §5.2.2.1 max-age). One rule for both key sets: the access-token keys
// at /oauth/jwks (src/oauth/metadata/metadata.route.ts) and the identity-token keys the wikis
// verify (src/accounts/routes.ts).
//  - Both are served with `Cache-Control: public, max-age=JWKS_MAX_AGE_SECONDS` (default 300).
//  - A verifier that honours max-age may hold the key set it fetched just before a rotation for that
//    long; a token signed with a key it has not seen is rejected meanwhile. So a rotated key is
//    published at once and signs only after `keyPendingSeconds`: every instance has polled it in
//    (two poll intervals and a second, PLATFORM_KEYS_POLL_SECONDS) AND every cached copy of the old
//    set has expired (the max-age). src/admin/keys.ts writes it as the key's `sign_after`.
//  - The admin tool computes this from ITS configuration: run it with the service's environment file
//    (docs/operations.md, "Keys with several instances").
//  - A compromised key (`keys rotate --drop-previous`) is replaced at once instead.
import type { Config } from './env.ts';

export const DEFAULT_JWKS_MAX_AGE_SECONDS = 300;

/** The Cache-Control header of a published key set. */
export function jwksCacheControl(config: Pick<Config, 'jwksMaxAgeSeconds'>): string {
  return `public, max-age=${config.jwksMaxAgeSeconds}`;
}

/**
 * Seconds from a rotation until its new key may sign.
 *  - Keys in the database (several instances): max-age + 2 polls + 1 s. Every instance loads the key
 *    before any signs with it, and every copy a verifier fetched before that has expired.
 *  - The key file (one instance): max-age + 1 poll + 1 s, the instance publishing it at its next poll;
 *    with max-age 0 nobody may cache, and the instance signs with it as soon as it loads it.
 */
export function keyPendingSeconds(
  config: Partial<Pick<Config, 'jwksMaxAgeSeconds' | 'platformKeysPollSeconds'>>,
  store: 'database' | 'file',
): number {
  const maxAge = config.jwksMaxAgeSeconds ?? DEFAULT_JWKS_MAX_AGE_SECONDS;
  const poll = config.platformKeysPollSeconds ?? 5;
  if (store === 'database') return maxAge + 2 * poll + 1;
  return maxAge === 0 ? 0 : maxAge + poll + 1;
}
