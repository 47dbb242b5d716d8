// RFC 6749 §2.3.1 / §3.2.1, OAuth 2.1 §2.4 — who is calling the token or revocation endpoint:
// client_secret_basic (Authorization: Basic, id and secret form-urlencoded), client_secret_post
// (both in the body) or none (client_id alone). One method per request, the registered one, and
// secrets compared in constant time; any failure is 401 invalid_client (RFC 6749 §5.2).
// private_key_jwt (RFC 7523 §2.2) is verified in client-assertion.ts; this file only dispatches to it.
import type { AppContext } from '../../context.ts';
import { sha256Hex, timingSafeEqualStrings } from '../../lib/secrets.ts';
import type { OAuthClientRecord, TokenEndpointAuthMethod } from '../clients/client.ts';
import { InvalidClient, InvalidRequest } from '../errors.ts';
import { authenticateByAssertion, hasClientAssertion } from './client-assertion.ts';
import { parseBasicAuthorization } from '../../web/authorization-header.ts';
import type { PostedRequest } from './client-post.ts';

interface PresentedCredentials {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret: string | undefined;
}

/** application/x-www-form-urlencoded decoding (RFC 6749 §2.3.1, Appendix B). */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new InvalidClient('The Basic credentials are not correctly encoded.');
  }
}

/** RFC 7617 — the id and secret of an `Authorization: Basic` header, or undefined when there is none. */
function readBasicCredentials(header: string | undefined): { clientId: string; secret: string } | undefined {
  const parsed = parseBasicAuthorization(header);
  // Another scheme is not client authentication: leave it alone.
  if (parsed.kind === 'other') return undefined;
  if (parsed.kind === 'malformed') throw new InvalidClient('The Basic credentials are not a single token.');
  const token = parsed.token;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) throw new InvalidClient('The Basic credentials are not valid base64.');
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) throw new InvalidClient('The Basic credentials have no client secret.');
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (clientId === '') throw new InvalidClient('The Basic credentials have no client_id.');
  return { clientId, secret };
}

/** A body parameter given once, or undefined; RFC 6749 §3.2: never twice. */
function bodyParam(body: unknown, name: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidRequest(`The "${name}" parameter must be given once.`);
  return value;
}

/** OAuth 2.1 §2.4: the credentials in the request, and which single method they use. */
function presentedCredentials(req: PostedRequest): PresentedCredentials {
  const basic = readBasicCredentials(req.get('authorization'));
  const bodyClientId = bodyParam(req.body, 'client_id');
  const bodySecret = bodyParam(req.body, 'client_secret');
  if (basic) {
    if (bodySecret !== undefined) {
      throw new InvalidRequest('The client authenticated with both HTTP Basic and client_secret in the body; use one method.');
    }
    if (bodyClientId !== undefined && bodyClientId !== basic.clientId) {
      throw new InvalidRequest('client_id in the body is not the one in the Authorization header.');
    }
    return { method: 'client_secret_basic', clientId: basic.clientId, secret: basic.secret };
  }
  if (bodySecret !== undefined) {
    if (bodyClientId === undefined) throw new InvalidClient('client_secret was sent without client_id.');
    return { method: 'client_secret_post', clientId: bodyClientId, secret: bodySecret };
  }
  if (bodyClientId !== undefined) return { method: 'none', clientId: bodyClientId, secret: undefined };
  throw new InvalidClient('The request does not say which client is calling (no client_id).');
}

export async function authenticateClient(ctx: Pick<AppContext, 'clientResolver' | 'clientAssertions'>, req: PostedRequest): Promise<OAuthClientRecord> {
  if (hasClientAssertion(req.body)) return authenticateByAssertion(ctx, req);
  const presented = presentedCredentials(req);
  const client = await ctx.clientResolver.resolve(presented.clientId);
  // Clients such as Claude register again when told their client_id is unknown.
  if (!client) throw new InvalidClient('This client is not registered here (or no longer). Register again.');
  const registered = client.metadata.token_endpoint_auth_method;
  if (presented.method !== registered) {
    throw new InvalidClient(`This client registered token_endpoint_auth_method ${registered} but authenticated with ${presented.method}.`);
  }
  if (presented.method !== 'none') {
    const secret = presented.secret ?? '';
    if (client.secretHash === null || !timingSafeEqualStrings(sha256Hex(secret), client.secretHash)) {
      throw new InvalidClient('Client authentication failed.');
    }
  }
  return client;
}
