// OAuth 2.1 §2, draft-ietf-oauth-client-id-metadata-document §4.3 — who a client_id names: a
// client we registered (looked up), or an https URL whose metadata document we fetch and cache for
// a bounded time. A stale copy is served when refreshing it fails; never fetched and failing means
// unknown. Reads and writes go through the store (src/storage/store.ts); a document is fetched
// outside any transaction and cached afterwards within MAX_CACHED_CLIENT_DOCUMENTS (client-caps.ts).
import { nowSeconds } from '../../db/open.ts';
import type { Logger } from '../../web/log.ts';
import type { OAuthClientRecord } from './client.ts';
import type { CachedClientRecord } from './clients.repo.ts';
import type { Store } from '../../storage/store.ts';
import { ClientMetadataDocumentError, fetchClientMetadataDocument, looksLikeClientIdUrl } from './client-metadata-document.ts';
import { documentFailureLog, type DocumentFailure } from './document-failure.ts';
import { assertRoomForDocument, cacheDocumentWithinCap } from './client-caps.ts';
import { TemporarilyUnavailable } from '../errors.ts';
import { DEFAULT_DOCUMENT_TTL_SECONDS, DOCUMENT_RETRY_AFTER_FAILURE_SECONDS, documentTtlSeconds } from '../../lifetimes.ts';

export interface ClientResolverOptions {
  /** Clients are read through `store.repos.clients`; a fetched document is cached in a transaction. */
  store: Pick<Store, 'repos' | 'transaction'>;
  log: Pick<Logger, 'info' | 'warn'>;
  /** MAX_CACHED_CLIENT_DOCUMENTS: a document not cached yet is refused (503) past this. Default: no cap. */
  maxCachedDocuments?: number;
  /** Development and tests only: fetch documents from loopback and private addresses. */
  allowPrivateAddresses: boolean;
  /** OUTBOUND_PRIVATE_HOSTS: names exempt from the public-address rule (still https). */
  privateHosts?: readonly string[];
  /** Extra PEM certificates to trust besides the system roots. */
  caCertificates?: string | undefined;
  /** Whole fetch, DNS to last byte. Default 5 s. */
  fetchTimeoutMs?: number;
  /** Largest document accepted. Default 10 KiB. */
  maxBytes?: number;
  /** Cache lifetime when the response gives no max-age. Default 1 h. */
  ttlSeconds?: number;
  /** After a failed refresh, the stale copy is served without retrying for this long. Default 60 s. */
  retryAfterFailureSeconds?: number;
  /** CLIENT_ID_METADATA_DOCUMENTS: when false, URL client_ids are unknown (clients register by DCR). Default true. */
  documentsEnabled?: boolean;
  /** Counts fetches by outcome (src/metrics/). */
  metrics?: { clientDocument(outcome: 'fetched' | 'refused' | 'failed'): void };
}

export interface ClientResolver {
  resolve(clientId: string): Promise<OAuthClientRecord | undefined>;
  /** Why the last resolve of this URL client_id found nothing, for the page the person sees. */
  failureFor(clientId: string): DocumentFailure | undefined;
}

/** Failures remembered for failureFor (bounded: the oldest half is dropped when full). */
const MAX_REMEMBERED_FAILURES = 1000;

export function createClientResolver(options: ClientResolverOptions): ClientResolver {
  const { store, log } = options;
  const clients = store.repos.clients;
  const fetchOptions = {
    allowPrivateAddresses: options.allowPrivateAddresses,
    privateHosts: options.privateHosts,
    caCertificates: options.caCertificates,
    timeoutMs: options.fetchTimeoutMs ?? 5000,
    maxBytes: options.maxBytes ?? 10 * 1024,
  };
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_DOCUMENT_TTL_SECONDS;
  const retryAfterFailureSeconds = options.retryAfterFailureSeconds ?? DOCUMENT_RETRY_AFTER_FAILURE_SECONDS;
  /** One fetch per client_id at a time; concurrent requests share it. */
  const inFlight = new Map<string, Promise<OAuthClientRecord | undefined>>();
  /** client_id → when a stale copy may be refreshed again after a failure. */
  const retryAt = new Map<string, number>();
  const documentsEnabled = options.documentsEnabled ?? true;
  const failures = new Map<string, DocumentFailure>();
  function remember(clientId: string, failure: DocumentFailure): void {
    if (failures.size >= MAX_REMEMBERED_FAILURES) {
      for (const key of [...failures.keys()].slice(0, MAX_REMEMBERED_FAILURES / 2)) failures.delete(key);
    }
    failures.set(clientId, failure);
  }

  async function refresh(clientId: string, cached: CachedClientRecord | undefined): Promise<OAuthClientRecord | undefined> {
    let fetched: Awaited<ReturnType<typeof fetchClientMetadataDocument>>;
    try {
      fetched = await fetchClientMetadataDocument(clientId, fetchOptions);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      options.metrics?.clientDocument(err instanceof ClientMetadataDocumentError && err.kind === 'refused' ? 'refused' : 'failed');
      if (cached) {
        if (retryAt.size > 10_000) retryAt.clear();
        retryAt.set(clientId, nowSeconds() + retryAfterFailureSeconds);
        const kind = err instanceof ClientMetadataDocumentError ? err.kind : 'unreachable';
        log.warn(
          { clientId, reason, kind, staleSince: cached.staleAt },
          kind === 'refused'
            ? 'client metadata document was fetched again but refused; serving the stale copy'
            : 'client metadata document could not be fetched again; serving the stale copy',
        );
        return cached;
      }
      const failure: DocumentFailure =
        err instanceof ClientMetadataDocumentError
          ? { kind: err.kind, reason, httpStatus: err.httpStatus }
          : { kind: 'unreachable', reason, httpStatus: undefined };
      remember(clientId, failure);
      const { fields, message } = documentFailureLog(clientId, failure);
      log.warn(fields, message);
      return undefined;
    }
    // Fetched: cached after the fetch, in its own transaction (a 503 when a concurrent fetch took the last room).
    const now = nowSeconds();
    options.metrics?.clientDocument('fetched');
    try {
      await cacheDocumentWithinCap(
        { store, log, maxCachedDocuments: options.maxCachedDocuments },
        clientId,
        fetched.metadata,
        now,
        now + documentTtlSeconds(fetched.maxAgeSeconds, ttlSeconds),
      );
    } catch (err) {
      // A storage fault while refreshing a cached copy: the stale copy still serves, as when the fetch fails.
      if (!cached || err instanceof TemporarilyUnavailable) throw err;
      log.warn({ err, clientId, staleSince: cached.staleAt }, 'client metadata document was fetched again but could not be stored; serving the stale copy (check the storage faults)');
      return cached;
    }
    retryAt.delete(clientId);
    failures.delete(clientId);
    log.info({ clientId, refreshed: cached !== undefined }, 'client metadata document fetched');
    return clients.find(clientId);
  }

  return {
    async resolve(clientId) {
      if (!looksLikeClientIdUrl(clientId)) return clients.find(clientId);
      if (!documentsEnabled) {
        remember(clientId, { kind: 'disabled', reason: 'CLIENT_ID_METADATA_DOCUMENTS=off', httpStatus: undefined });
        return undefined;
      }
      const cached = await clients.find(clientId);
      if (cached && cached.kind !== 'metadata_document') return cached;
      const now = nowSeconds();
      if (cached && (cached.staleAt ?? 0) > now) return cached;
      if (cached && (retryAt.get(clientId) ?? 0) > now) return cached;
      const pending = inFlight.get(clientId);
      if (pending) return pending;
      // Registered in inFlight before anything is awaited, so concurrent requests share one fetch.
      const maxCachedDocuments = options.maxCachedDocuments;
      const started = (async () => {
        if (!cached && maxCachedDocuments !== undefined) await assertRoomForDocument({ clients, log, maxCachedDocuments }, clientId);
        return refresh(clientId, cached);
      })().finally(() => inFlight.delete(clientId));
      inFlight.set(clientId, started);
      return started;
    },
    failureFor(clientId) {
      return failures.get(clientId);
    },
  };
}
