// What the authorization server knows about a client, whichever way it became known.

export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** RFC 7523 §2.2 client assertions: the signature algorithms we verify (never none, never HS*). */
export const CLIENT_ASSERTION_ALGORITHMS = ['ES256', 'RS256'] as const;
export type ClientAssertionAlgorithm = (typeof CLIENT_ASSERTION_ALGORITHMS)[number];

/** A public JSON Web Key as a client publishes it (RFC 7517 §4); only public members are kept. */
export interface PublicJwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

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
  /** private_key_jwt only: where the client's public keys are published (RFC 7591 §2), or them inline. */
  jwks_uri?: string;
  jwks?: { keys: PublicJwk[] };
  token_endpoint_auth_signing_alg?: ClientAssertionAlgorithm;
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
