// RFC 7591 §3.2.1 — the registered metadata echoed back with client_id and client_id_issued_at;
// client_secret and client_secret_expires_at (0: never expires) only for confidential clients.
// Fields that are not set are left out, never sent as null. What is echoed is what was GRANTED
// (RFC 7591 §3.2.1: "possibly with different values"): the narrowed grant types, response types and
// scope, and the auth method chosen (register/client-metadata.schema.ts).
import type { ClientMetadata, OAuthClientRecord } from '../clients/client.ts';

export interface RegistrationResponse extends ClientMetadata {
  client_id: string;
  client_id_issued_at: number;
  client_secret?: string;
  client_secret_expires_at?: number;
}

export function registrationResponse(client: OAuthClientRecord, clientSecret: string | undefined): RegistrationResponse {
  const metadata = Object.fromEntries(
    Object.entries(client.metadata).filter(([, value]) => value !== undefined && value !== null),
  ) as ClientMetadata;
  return {
    client_id: client.clientId,
    client_id_issued_at: client.createdAt,
    ...(clientSecret === undefined ? {} : { client_secret: clientSecret, client_secret_expires_at: 0 }),
    ...metadata,
  };
}
