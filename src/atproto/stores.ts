// The rules for @atproto/oauth-client-node's stores: the in-flight authorization states (PKCE
// verifier, DPoP private key, our app state) and the per-DID sessions (PDS tokens, DPoP private
// key). Both hold secrets, so every value is sealed at rest (src/lib/sealing.ts) with the table and
// row key as associated data ("atproto_auth_states\0<key>", "atproto_sessions\0<did>"):
//  - read: a value sealed with a rotated-out key still in the key file is opened and re-sealed with
//    the current key (compare-and-swap on the stored value); a value no key opens (its key is gone,
//    or it was tampered with) is treated as missing, with a warn line naming the row: the person
//    signs in again (these sessions serve sign-in and logout only).
//  - start-up (src/context.ts) and the purge job (src/maintenance.ts), the seal pass: plaintext rows
//    from before sealing are sealed, stale ones re-sealed, unreadable ones deleted, in one transaction.
//  - an authorization state older than ATPROTO_AUTH_STATE_TTL_SECONDS (src/lifetimes.ts) is dead;
//    the states of a sign-in that could not start are deleted (sign-in.ts, by their app state's hash).
// The code is over the async Store, so several instances share the rows and the client's request
// lock: src/storage/atproto-stores.ts (the stores and the seal pass), src/storage/store.ts
// (`atprotoStates`, `atprotoSessions`, `requestLock`).
import type { Sealer } from '../lib/sealing.ts';
import type { Logger } from '../web/log.ts';

/** What the stores and the seal pass need to seal, and to tell the operator about a row no key opens. */
export interface StoreSealing {
  sealer: Sealer;
  log: Pick<Logger, 'warn'>;
}
