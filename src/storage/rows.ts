// Row ↔ domain mappings that both stores share and that have no *.repo.ts of their own (the others
// are exported from their repository: users.repo.ts toUser, codes.repo.ts toCode, grants.repo.ts
// toGrant, refresh-tokens.repo.ts toRefreshToken, clients.repo.ts toClient, wikis.repo.ts toWiki).
// Only column names and values live here; each store writes its own SQL around them.
import type { ClientSummary } from '../admin/clients.ts';
import type { AuditEntry, AuditEvent, AuditEventName } from '../audit/audit-log.ts';

/** The audit_log columns an insert writes, in the order auditInsertValues returns them. */
export const AUDIT_INSERT_COLUMNS = 'at, event, did, client_id, wiki_slug, actor, address, detail';

/** audit-log.ts: one event as its row's values (absent facts as NULL, detail as JSON). */
export function auditInsertValues(e: AuditEvent, at: number): (string | number | null)[] {
  return [
    at,
    e.event,
    e.did ?? null,
    e.clientId ?? null,
    e.wikiSlug ?? null,
    e.actor ?? null,
    e.address ?? null,
    e.detail ? JSON.stringify(e.detail) : null,
  ];
}

/** An audit_log row as both stores read it. */
export interface AuditRow {
  id: number;
  at: number;
  event: AuditEventName;
  did: string | null;
  client_id: string | null;
  wiki_slug: string | null;
  actor: string | null;
  address: string | null;
  detail: string | null;
}

export const toAuditEntry = (r: AuditRow): AuditEntry => ({
  id: r.id,
  at: r.at,
  event: r.event,
  did: r.did,
  clientId: r.client_id,
  wikiSlug: r.wiki_slug,
  actor: r.actor,
  address: r.address,
  detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
});

/** What the admin clients list reads of an oauth_clients row and its live-grant count. */
export interface ClientSummaryRow {
  client_id: string;
  kind: 'registered' | 'metadata_document';
  metadata: string;
  live_grants: number;
  created_at: number;
  first_token_at: number | null;
  last_used_at: number | null;
}

/** admin/clients.ts: the listing's view of a client; metadata fields of the wrong type read as absent. */
export function toClientSummary(r: ClientSummaryRow): ClientSummary {
  const metadata = JSON.parse(r.metadata) as { client_name?: unknown; token_endpoint_auth_method?: unknown; redirect_uris?: unknown };
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
}
