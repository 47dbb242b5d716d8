// Bounded disk use under open registration (RFC 7591 §3 lets anyone register; the client ID
// metadata document draft lets anyone name a document for us to fetch and cache). Issue 9,
// finding 9: one address could otherwise store ~1.2 M registrations of up to 16 KB.
//  - Clients that never obtain a token are purged after UNUSED_CLIENT_PURGE_SECONDS (src/db/purge.ts).
//  - Past MAX_UNUSED_CLIENTS never-used registrations, /register answers 503 temporarily_unavailable
//    with Retry-After; past MAX_CACHED_CLIENT_DOCUMENTS cached documents, a document not cached yet
//    is not fetched and /authorize answers 503. Clients that exist keep working.
// The counts are maintained by triggers (migrations/005-sealed-stores-and-client-counts.sql), so a check costs O(1) whatever the table size.
import type { Config } from '../../config/env.ts';
import type { Logger } from '../../web/log.ts';
import { TemporarilyUnavailable } from '../errors.ts';
import type { ClientsRepo } from './clients.repo.ts';
import { unusedClientPurgeAfter } from '../../lifetimes.ts';

/** The purge job runs every 10 minutes (src/server.ts): room appears no sooner. */
export const CAP_RETRY_AFTER_SECONDS = 600;

export interface CapDeps {
  clients: Pick<ClientsRepo, 'countUnusedRegistered' | 'countDocuments'>;
  log: Pick<Logger, 'warn'>;
}

/** Throws 503 when MAX_UNUSED_CLIENTS never-used registrations exist already. */
export function assertRoomForRegistration(deps: CapDeps & { config: Pick<Config, 'maxUnusedClients' | 'unusedClientPurgeSeconds'> }): void {
  const cap = deps.config.maxUnusedClients;
  if (deps.clients.countUnusedRegistered() < cap) return;
  deps.log.warn(
    { cap, unusedClientPurgeSeconds: unusedClientPurgeAfter(deps.config) },
    'client registration cap reached: /register answers 503 until unused registrations are purged. ' +
      'If this is not a registration flood (many "client registered" lines from few addresses), raise MAX_UNUSED_CLIENTS; ' +
      'to recover sooner, lower UNUSED_CLIENT_PURGE_SECONDS or run `npm run admin -- purge`',
  );
  throw new TemporarilyUnavailable('Registration is closed for a while because too many registrations are pending. Try again later.', {
    headers: { 'Retry-After': String(CAP_RETRY_AFTER_SECONDS) },
  });
}

/** Throws 503 when a document not cached yet would exceed MAX_CACHED_CLIENT_DOCUMENTS. */
export function assertRoomForDocument(deps: CapDeps & { maxCachedDocuments: number }, clientId: string): void {
  const cap = deps.maxCachedDocuments;
  if (deps.clients.countDocuments() < cap) return;
  deps.log.warn(
    { cap, clientId },
    'client metadata document cap reached: a new document was refused (503); cached ones keep working. ' +
      'If the cached documents are a flood of unused ones, they are purged after UNUSED_CLIENT_PURGE_SECONDS; otherwise raise MAX_CACHED_CLIENT_DOCUMENTS',
  );
  throw new TemporarilyUnavailable('This app cannot be connected right now: too many apps are waiting to be connected. Try again later.', {
    headers: { 'Retry-After': String(CAP_RETRY_AFTER_SECONDS) },
    title: 'Please try again later',
  });
}
