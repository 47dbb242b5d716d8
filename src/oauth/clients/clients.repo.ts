// OAuth clients: RFC 7591 registrations (kept across restarts, secrets stored as SHA-256 hashes
// only) and cached client ID metadata documents. Registrations that never obtain a token are purged.
import type { Db } from '../../db/open.ts';
import { nowSeconds } from '../../db/open.ts';
import { randomToken } from '../../lib/secrets.ts';
import { LAST_SEEN_RESOLUTION_SECONDS } from '../../lifetimes.ts';
import type { ClientMetadata, OAuthClientRecord } from './client.ts';

/** A cached metadata document also knows when it was fetched and when it must be fetched again. */
export interface CachedClientRecord extends OAuthClientRecord {
  fetchedAt: number | null;
  staleAt: number | null;
}

/** The stored row, and its mapping (metadata parsed by the caller); both stores read it. */
export interface ClientRow {
  client_id: string;
  kind: 'registered' | 'metadata_document';
  secret_hash: string | null;
  metadata: string;
  created_at: number;
  fetched_at: number | null;
  stale_at: number | null;
  first_token_at: number | null;
  last_used_at: number | null;
}

export const toClient = (r: ClientRow, metadata: ClientMetadata): CachedClientRecord => ({
  clientId: r.client_id,
  kind: r.kind,
  secretHash: r.secret_hash,
  metadata,
  createdAt: r.created_at,
  firstTokenAt: r.first_token_at,
  lastUsedAt: r.last_used_at,
  fetchedAt: r.fetched_at,
  staleAt: r.stale_at,
});

/** Prefix of the client_ids we issue: never an https URL, so never mistaken for a metadata document. */
export const REGISTERED_CLIENT_ID_PREFIX = 'rc_';

export type ClientsRepo = ReturnType<typeof createClientsRepo>;

/** Parsed metadata documents kept for reuse (per repository); the whole map is dropped when full. */
const MAX_PARSED_METADATA = 1000;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function createClientsRepo(db: Db) {
  const insert = db.prepare<[string, string | null, string, number]>(
    `INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at)
     VALUES (?, 'registered', ?, ?, ?)`,
  );
  const byId = db.prepare<[string], ClientRow>('SELECT * FROM oauth_clients WHERE client_id = ?');
  // A registered client can never be overwritten by a document (kind guard on the update).
  const upsertDocument = db.prepare<[{ clientId: string; metadata: string; fetchedAt: number; staleAt: number }]>(
    `INSERT INTO oauth_clients (client_id, kind, secret_hash, metadata, created_at, fetched_at, stale_at)
     VALUES (@clientId, 'metadata_document', NULL, @metadata, @fetchedAt, @fetchedAt, @staleAt)
     ON CONFLICT (client_id) DO UPDATE SET metadata = @metadata, fetched_at = @fetchedAt, stale_at = @staleAt
     WHERE kind = 'metadata_document'`,
  );
  // Maintained by triggers (migrations/005-sealed-stores-and-client-counts.sql): O(1) for the caps in src/oauth/clients/client-caps.ts.
  const count = db.prepare<[string], { n: number }>('SELECT n FROM oauth_client_counts WHERE name = ?');
  // The row is read on every lookup (a deleted or changed client is seen at once); only the JSON.parse
  // of its metadata is skipped while the stored text is the same. Frozen: every caller shares it.
  const parsed = new Map<string, { text: string; metadata: ClientMetadata }>();
  function metadataOf(r: ClientRow): ClientMetadata {
    const hit = parsed.get(r.client_id);
    if (hit !== undefined && hit.text === r.metadata) return hit.metadata;
    const metadata = deepFreeze(JSON.parse(r.metadata) as ClientMetadata);
    if (parsed.size >= MAX_PARSED_METADATA) parsed.clear();
    parsed.set(r.client_id, { text: r.metadata, metadata });
    return metadata;
  }
  // The first token is always written; last_used_at then only once it is LAST_SEEN_RESOLUTION_SECONDS
  // old. A client ID metadata document's client_id is shared by every person who connects that
  // app: without the resolution every code exchange of any of them rewrites the same row.
  const markTokenIssued = db.prepare<[{ clientId: string; now: number; seenBefore: number }]>(
    `UPDATE oauth_clients SET first_token_at = coalesce(first_token_at, @now), last_used_at = @now
      WHERE client_id = @clientId AND (first_token_at IS NULL OR last_used_at IS NULL OR last_used_at <= @seenBefore)`,
  );
  return {
    /** RFC 7591 §3.2.1: a new client with a random client_id. `secretHash` is null for public clients. */
    insertRegistered(metadata: ClientMetadata, secretHash: string | null): OAuthClientRecord {
      const clientId = REGISTERED_CLIENT_ID_PREFIX + randomToken(16);
      const now = nowSeconds();
      insert.run(clientId, secretHash, JSON.stringify(metadata), now);
      return { clientId, kind: 'registered', secretHash, metadata, createdAt: now, firstTokenAt: null, lastUsedAt: null };
    },
    find(clientId: string): CachedClientRecord | undefined {
      const row = byId.get(clientId);
      return row && toClient(row, metadataOf(row));
    },
    /** Stores a freshly fetched metadata document (insert or refresh of the cached copy). */
    upsertDocument(clientId: string, metadata: ClientMetadata, fetchedAt: number, staleAt: number): void {
      upsertDocument.run({ clientId, metadata: JSON.stringify(metadata), fetchedAt, staleAt });
    },
    /** Registrations that never obtained a token. */
    countUnusedRegistered(): number {
      return count.get('unused_registered')?.n ?? 0;
    },
    /** Cached metadata documents. */
    countDocuments(): number {
      return count.get('metadata_document')?.n ?? 0;
    },
    /** Called when a token is issued: the client is in use and will not be purged (last use to the minute). */
    markTokenIssued(clientId: string): void {
      const now = nowSeconds();
      markTokenIssued.run({ clientId, now, seenBefore: now - LAST_SEEN_RESOLUTION_SECONDS });
    },
  };
}
