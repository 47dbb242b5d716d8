// Bounded disk use under open registration (RFC 7591 §3 lets anyone register; the client ID
// metadata document draft lets anyone name a document for us to fetch and cache). Issue 9,
// finding 9: one address could otherwise store ~1.2 M registrations of up to 16 KB.
//  - Clients that never obtain a token are purged after UNUSED_CLIENT_PURGE_SECONDS (src/db/purge.ts).
//  - Past MAX_UNUSED_CLIENTS never-used registrations, /register answers 503 temporarily_unavailable
//    with Retry-After; past MAX_CACHED_CLIENT_DOCUMENTS cached documents, a document not cached yet
//    is not fetched and /authorize answers 503. Clients that exist keep working.
//  - The check and the insert are one store transaction that calls `clients.lockCaps()` first
//    (src/storage/store.ts): with several instances (or concurrent requests on one) they run one at
//    a time, so no cap is exceeded. The document is fetched before that transaction (no network I/O
//    inside one); a cheap check before fetching spares the fetch when the cache is already full.
//    The 503's log line and error come after the transaction ended.
// The counts are maintained by triggers (migrations/005-sealed-stores-and-client-counts.sql), so a check costs O(1) whatever the table size.
import type { Config } from '../../config/env.ts';
import type { ClientsRepository, Store } from '../../storage/store.ts';
import type { Logger } from '../../web/log.ts';
import { TemporarilyUnavailable } from '../errors.ts';
import type { ClientMetadata, OAuthClientRecord } from './client.ts';
import { unusedClientPurgeAfter } from '../../lifetimes.ts';

/** The purge job runs every 10 minutes (src/server.ts): room appears no sooner. */
export const CAP_RETRY_AFTER_SECONDS = 600;

export interface CapDeps {
  store: Pick<Store, 'transaction'>;
  log: Pick<Logger, 'warn'>;
}

type RegistrationCapConfig = Pick<Config, 'maxUnusedClients' | 'unusedClientPurgeSeconds'>;

/** The 503 for a full registration table, and the operator's log line saying what to do. */
function registrationClosed(deps: Pick<CapDeps, 'log'> & { config: RegistrationCapConfig }): TemporarilyUnavailable {
  deps.log.warn(
    { cap: deps.config.maxUnusedClients, unusedClientPurgeSeconds: unusedClientPurgeAfter(deps.config) },
    'client registration cap reached: /register answers 503 until unused registrations are purged. ' +
      'If this is not a registration flood (many "client registered" lines from few addresses), raise MAX_UNUSED_CLIENTS; ' +
      'to recover sooner, lower UNUSED_CLIENT_PURGE_SECONDS or run `npm run admin -- purge`',
  );
  return new TemporarilyUnavailable('Registration is closed for a while because too many registrations are pending. Try again later.', {
    headers: { 'Retry-After': String(CAP_RETRY_AFTER_SECONDS) },
  });
}

/**
 * RFC 7591 §3.2.1 within MAX_UNUSED_CLIENTS: stores the client (`secretHash` null for clients
 * without a secret) unless the cap is reached, then throws 503 (nothing stored).
 */
export async function registerWithinCap(
  deps: CapDeps & { config: RegistrationCapConfig },
  metadata: ClientMetadata,
  secretHash: string | null,
): Promise<OAuthClientRecord> {
  const cap = deps.config.maxUnusedClients;
  const registered = await deps.store.transaction(async (tx) => {
    await tx.clients.lockCaps();
    if ((await tx.clients.countUnusedRegistered()) >= cap) return undefined;
    return tx.clients.insertRegistered(metadata, secretHash);
  });
  if (registered === undefined) throw registrationClosed(deps);
  return registered;
}

/** The 503 for a full document cache, and the operator's log line. */
function documentRefused(deps: Pick<CapDeps, 'log'>, cap: number, clientId: string): TemporarilyUnavailable {
  deps.log.warn(
    { cap, clientId },
    'client metadata document cap reached: a new document was refused (503); cached ones keep working. ' +
      'If the cached documents are a flood of unused ones, they are purged after UNUSED_CLIENT_PURGE_SECONDS; otherwise raise MAX_CACHED_CLIENT_DOCUMENTS',
  );
  return new TemporarilyUnavailable('This app cannot be connected right now: too many apps are waiting to be connected. Try again later.', {
    headers: { 'Retry-After': String(CAP_RETRY_AFTER_SECONDS) },
    title: 'Please try again later',
  });
}

/** Before fetching a document not cached yet: throws 503 when MAX_CACHED_CLIENT_DOCUMENTS are cached already. */
export async function assertRoomForDocument(
  deps: { clients: Pick<ClientsRepository, 'countDocuments'>; log: Pick<Logger, 'warn'>; maxCachedDocuments: number },
  clientId: string,
): Promise<void> {
  if ((await deps.clients.countDocuments()) < deps.maxCachedDocuments) return;
  throw documentRefused(deps, deps.maxCachedDocuments, clientId);
}

/**
 * After fetching: caches the document (a refresh of a cached copy always may), unless it is new and
 * MAX_CACHED_CLIENT_DOCUMENTS are cached already (a concurrent fetch took the last room): then
 * throws 503, nothing stored. `maxCachedDocuments` undefined: no cap.
 */
export async function cacheDocumentWithinCap(
  deps: CapDeps & { maxCachedDocuments: number | undefined },
  clientId: string,
  metadata: ClientMetadata,
  fetchedAt: number,
  staleAt: number,
): Promise<void> {
  const cap = deps.maxCachedDocuments;
  const cached = await deps.store.transaction(async (tx) => {
    if (cap !== undefined) {
      await tx.clients.lockCaps();
      const isNew = (await tx.clients.find(clientId)) === undefined;
      if (isNew && (await tx.clients.countDocuments()) >= cap) return false;
    }
    await tx.clients.upsertDocument(clientId, metadata, fetchedAt, staleAt);
    return true;
  });
  if (!cached) throw documentRefused(deps, cap ?? 0, clientId);
}
