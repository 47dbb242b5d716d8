// OAuth clients: dynamic registrations (RFC 7591) and cached client ID metadata documents.
import { nowSeconds, type Db } from '../db/open.ts';

export interface ClientSummary {
  clientId: string;
  kind: 'registered' | 'metadata_document';
  clientName: string | null;
  tokenEndpointAuthMethod: string | null;
  redirectUris: string[];
  liveGrants: number;
  createdAt: number;
  firstTokenAt: number | null;
  lastUsedAt: number | null;
}

interface ClientSummaryRow {
  client_id: string;
  kind: 'registered' | 'metadata_document';
  metadata: string;
  live_grants: number;
  created_at: number;
  first_token_at: number | null;
  last_used_at: number | null;
}

interface StoredMetadata {
  client_name?: unknown;
  token_endpoint_auth_method?: unknown;
  redirect_uris?: unknown;
}

export function listClients(db: Db, now = nowSeconds()): ClientSummary[] {
  const rows = db
    .prepare<[{ now: number }], ClientSummaryRow>(
      `SELECT c.client_id, c.kind, c.metadata, c.created_at, c.first_token_at, c.last_used_at,
         (SELECT count(*) FROM oauth_grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL AND g.expires_at > @now) AS live_grants
       FROM oauth_clients c ORDER BY c.created_at, c.client_id`,
    )
    .all({ now });
  return rows.map((r) => {
    const metadata = JSON.parse(r.metadata) as StoredMetadata;
    return {
      clientId: r.client_id,
      kind: r.kind,
      clientName: typeof metadata.client_name === 'string' ? metadata.client_name : null,
      tokenEndpointAuthMethod: typeof metadata.token_endpoint_auth_method === 'string' ? metadata.token_endpoint_auth_method : null,
      redirectUris: Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris.filter((u): u is string => typeof u === 'string') : [],
      liveGrants: r.live_grants,
      createdAt: r.created_at,
      firstTokenAt: r.first_token_at,
      lastUsedAt: r.last_used_at,
    };
  });
}
