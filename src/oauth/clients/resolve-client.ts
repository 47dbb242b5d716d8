// OAuth 2.1 §2, draft-ietf-oauth-client-id-metadata-document §4.3 — who a client_id names: a
// client we registered (looked up), or an https URL whose metadata document we fetch and cache for
// a bounded time. A stale copy is served when refreshing it fails; never fetched and failing means
// unknown.
import { nowSeconds } from '../../db/open.ts';
import type { Logger } from '../../web/log.ts';
import type { OAuthClientRecord } from './client.ts';
import type { CachedClientRecord, ClientsRepo } from './clients.repo.ts';
import { fetchClientMetadataDocument, looksLikeClientIdUrl } from './client-metadata-document.ts';
import { assertRoomForDocument } from './client-caps.ts';

export interface ClientResolverOptions {
  clients: ClientsRepo;
  log: Pick<Logger, 'info' | 'warn'>;
  /** MAX_CACHED_CLIENT_DOCUMENTS: a document not cached yet is refused (503) past this. Default: no cap. */
  maxCachedDocuments?: number;
  /** Development and tests only: fetch documents from loopback and private addresses. */
  allowPrivateAddresses: boolean;
  /** Extra PEM certificates to trust besides the system roots. */
  caCertificates?: string;
  /** Whole fetch, DNS to last byte. Default 5 s. */
  fetchTimeoutMs?: number;
  /** Largest document accepted. Default 10 KiB. */
  maxBytes?: number;
  /** Cache lifetime when the response gives no max-age. Default 1 h. */
  ttlSeconds?: number;
  /** After a failed refresh, the stale copy is served without retrying for this long. Default 60 s. */
  retryAfterFailureSeconds?: number;
}

export interface ClientResolver {
  resolve(clientId: string): Promise<OAuthClientRecord | undefined>;
}

/** Bounds on a document's cache lifetime, whatever its Cache-Control says. */
export const MIN_DOCUMENT_TTL_SECONDS = 60;
export const MAX_DOCUMENT_TTL_SECONDS = 24 * 60 * 60;

/** How long a fetched document stays fresh: its max-age (or the default), within [60 s, 24 h]. */
export function documentTtlSeconds(maxAgeSeconds: number | undefined, defaultTtlSeconds: number): number {
  const wanted = maxAgeSeconds ?? defaultTtlSeconds;
  return Math.min(MAX_DOCUMENT_TTL_SECONDS, Math.max(MIN_DOCUMENT_TTL_SECONDS, wanted));
}

export function createClientResolver(options: ClientResolverOptions): ClientResolver {
  const { clients, log } = options;
  const fetchOptions = {
    allowPrivateAddresses: options.allowPrivateAddresses,
    caCertificates: options.caCertificates,
    timeoutMs: options.fetchTimeoutMs ?? 5000,
    maxBytes: options.maxBytes ?? 10 * 1024,
  };
  const ttlSeconds = options.ttlSeconds ?? 60 * 60;
  const retryAfterFailureSeconds = options.retryAfterFailureSeconds ?? 60;
  /** One fetch per client_id at a time; concurrent requests share it. */
  const inFlight = new Map<string, Promise<OAuthClientRecord | undefined>>();
  /** client_id → when a stale copy may be refreshed again after a failure. */
  const retryAt = new Map<string, number>();

  async function refresh(clientId: string, cached: CachedClientRecord | undefined): Promise<OAuthClientRecord | undefined> {
    try {
      const { metadata, maxAgeSeconds } = await fetchClientMetadataDocument(clientId, fetchOptions);
      const now = nowSeconds();
      clients.upsertDocument(clientId, metadata, now, now + documentTtlSeconds(maxAgeSeconds, ttlSeconds));
      retryAt.delete(clientId);
      log.info({ clientId, refreshed: cached !== undefined }, 'client metadata document fetched');
      return clients.find(clientId);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (cached) {
        if (retryAt.size > 10_000) retryAt.clear();
        retryAt.set(clientId, nowSeconds() + retryAfterFailureSeconds);
        log.warn({ clientId, reason, staleSince: cached.staleAt }, 'client metadata document could not be refreshed; serving the stale copy');
        return cached;
      }
      log.warn({ clientId, reason }, 'client metadata document could not be fetched');
      return undefined;
    }
  }

  return {
    async resolve(clientId) {
      if (!looksLikeClientIdUrl(clientId)) return clients.find(clientId);
      const cached = clients.find(clientId);
      if (cached && cached.kind !== 'metadata_document') return cached;
      const now = nowSeconds();
      if (cached && (cached.staleAt ?? 0) > now) return cached;
      if (cached && (retryAt.get(clientId) ?? 0) > now) return cached;
      const pending = inFlight.get(clientId);
      if (pending) return pending;
      if (!cached && options.maxCachedDocuments !== undefined) {
        assertRoomForDocument({ clients, log, maxCachedDocuments: options.maxCachedDocuments }, clientId);
      }
      const started = refresh(clientId, cached).finally(() => inFlight.delete(clientId));
      inFlight.set(clientId, started);
      return started;
    },
  };
}
