// The rules for @atproto/oauth-client-node's stores: the in-flight authorization states (PKCE
// verifier, DPoP private key, our app state) and the per-DID sessions (PDS tokens, DPoP private
// key). Both hold secrets, so every value is sealed at rest (src/lib/sealing.ts) with the table and
// row key as associated data:
//  - read: a value sealed with a rotated-out key still in the key file is opened and re-sealed with
//    the current key; a value no key opens (its key is gone, or it was tampered with) is treated as
//    missing, with a warn line: the person signs in again (these sessions serve sign-in and logout only).
//  - start-up and the purge job (the seal pass): plaintext rows from before sealing are sealed,
//    stale ones re-sealed, unreadable ones deleted.
//  - an authorization state older than ATPROTO_AUTH_STATE_TTL_SECONDS (src/lifetimes.ts) is dead.
// The stores the client uses and the seal pass (start-up and purge) are over the async Store
// (src/storage/atproto-stores.ts, sealAtprotoRows), so several instances share them. What is left
// here: these rules and the sealing dependency.
import type { Sealer } from '../lib/sealing.ts';
import type { Logger } from '../web/log.ts';

export interface StoreSealing {
  sealer: Sealer;
  log: Pick<Logger, 'warn'>;
}
