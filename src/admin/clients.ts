// OAuth clients: dynamic registrations (RFC 7591) and cached client ID metadata documents.
// Storage: `operator.listClients` of the Store the CLI opened (src/admin/database.ts).
import type { Store } from '../storage/store.ts';

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

export function listClients(store: Pick<Store, 'repos'>, now?: number): Promise<ClientSummary[]> {
  return store.repos.operator.listClients(now);
}
