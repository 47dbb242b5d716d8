// What the authorization server knows about a client, whichever way it became known.

export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** Validated client metadata (RFC 7591 §2), as registered or as read from a metadata document. */
export interface ClientMetadata {
  redirect_uris: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  grant_types: string[];
  response_types: string[];
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  scope?: string;
  application_type?: 'web' | 'native';
  software_id?: string;
  software_version?: string;
  contacts?: string[];
}

export interface OAuthClientRecord {
  clientId: string;
  /** 'registered' (RFC 7591) or 'metadata_document' (client_id is an https URL). */
  kind: 'registered' | 'metadata_document';
  /** SHA-256 of the client secret, for confidential registered clients only. */
  secretHash: string | null;
  metadata: ClientMetadata;
  createdAt: number;
  firstTokenAt: number | null;
  lastUsedAt: number | null;
}

/** Name to show a person: the client's own name, or its client_id's host. */
export function clientDisplayName(client: Pick<OAuthClientRecord, 'clientId' | 'metadata'>): string {
  return displayNameFor(client.clientId, client.metadata.client_name);
}

export function displayNameFor(clientId: string, clientName: string | null | undefined): string {
  if (clientName) return clientName;
  try {
    return new URL(clientId).host || clientId;
  } catch {
    return clientId;
  }
}
