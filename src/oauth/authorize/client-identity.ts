// Issue 9 finding 7, issue 10 item 4 — what the consent page may truthfully say about who is asking.
// Nothing here is verified: a DCR client (RFC 7591) named itself, and a client ID metadata document
// (draft-ietf-oauth-client-id-metadata-document §3) only proves that whoever runs the HOST of its
// client_id URL published it. So every client is shown as unverified; a document's client is shown
// with that host ("claude.ai") next to the name it gives itself. MCP authorization (security
// considerations) SHOULD warn when every redirect URI is a loopback one: the authorization then goes
// to whatever program listens on this computer.
import type { OAuthClientRecord } from '../clients/client.ts';
import { clientDisplayName } from '../clients/client.ts';

export interface ClientIdentity {
  /** The name the client gives itself (or its client_id's host when it gives none). */
  name: string;
  /** The client_id: an id we issued, or the metadata document's URL. */
  clientId: string;
  kind: OAuthClientRecord['kind'];
  /** Metadata-document clients: the host that published the document (e.g. "claude.ai"). */
  publishedBy: string | undefined;
  /** Nothing vouches for the name: true for every client this server knows today. */
  unverified: true;
  /** Every registered redirect URI is http on localhost, 127.0.0.1 or [::1]. */
  loopbackOnly: boolean;
}

const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopbackRedirect(uri: string): boolean {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' && LOOPBACK_HOSTNAMES.has(url.hostname);
  } catch {
    return false;
  }
}

function hostOf(clientId: string): string | undefined {
  try {
    return new URL(clientId).host || undefined;
  } catch {
    return undefined;
  }
}

export function describeClientIdentity(client: Pick<OAuthClientRecord, 'clientId' | 'kind' | 'metadata'>): ClientIdentity {
  const uris = client.metadata.redirect_uris;
  return {
    name: clientDisplayName(client),
    clientId: client.clientId,
    kind: client.kind,
    publishedBy: client.kind === 'metadata_document' ? hostOf(client.clientId) : undefined,
    unverified: true,
    loopbackOnly: uris.length > 0 && uris.every(isLoopbackRedirect),
  };
}
