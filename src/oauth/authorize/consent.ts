// The consent decision: what the page shows, and what Allow / Deny do. Returns data; the route
// renders and redirects. Who is asking: client-identity.ts. With no `resource` and several wikis,
// nothing is preselected and Allow without a choice is refused (issue 10 item 6); the chosen wiki
// is bound to the code, hence to the token's audience.
// Allow / Deny is one store transaction (src/storage/store.ts rule 1) that returns an outcome:
// taking the pending request (single use: only the first of two concurrent decisions, on any
// instance, gets it), the code and the audit row commit together or not at all. The log lines and
// audit announcements are written, and "expired" thrown, after commit.
import type { AppContext } from '../../context.ts';
import type { AuditEvent } from '../../audit/audit-log.ts';
import type { Repositories } from '../../storage/store.ts';
import type { SignedInUser } from '../../accounts/session.ts';
import { AppError } from '../../web/errors.ts';
import { wikiMcpUrl } from '../../wikis/urls.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import { isPrivateUseSchemeRedirect } from '../clients/redirect-uri.ts';
import { AccessDenied } from '../errors.ts';
import { formatScope, SCOPE_DESCRIPTIONS } from '../scopes.ts';
import type { PendingAuthorization } from './authorization-requests.repo.ts';
import { AuthorizationErrorRedirect, authorizationResponseUrl } from './authorization-response.ts';
import { describeClientIdentity, type ClientIdentity } from './client-identity.ts';

export class AuthorizationRequestExpired extends AppError {
  constructor() {
    super(400, 'invalid_request', 'This approval page has expired or was already used. Go back to the app and connect again.', {
      title: 'This request has expired',
    });
  }
}

export interface ConsentView {
  requestId: string;
  clientName: string;
  clientId: string;
  /** Who is asking, as far as anything shows it (client-identity.ts). */
  client: ClientIdentity;
  /** Nothing vouches for the client's name (every client today). */
  unverified: boolean;
  redirectHost: string;
  scopes: { scope: string; description: string }[];
  /** The wiki named by the request, when the signed-in person owns it. */
  wiki: { slug: string; mcpUrl: string } | undefined;
  /** Set when the request names a wiki the person does not own. */
  foreignWiki: string | undefined;
  /** The person's wikis to pick from when the request named none. */
  choices: { slug: string; mcpUrl: string }[];
  /** The one wiki to preselect: only when there is exactly one choice. */
  preselected: string | undefined;
  /** Set when Allow was pressed without choosing a wiki. */
  choiceMissing: boolean;
  /** RFC 8252 §7.1: the redirect goes to an app on this device through this private-use scheme. */
  nativeAppScheme: string | undefined;
}

export async function loadConsent(ctx: Pick<AppContext, 'store' | 'clientResolver'>, requestId: string): Promise<{ pending: PendingAuthorization; client: OAuthClientRecord }> {
  const pending = await ctx.store.repos.authorizationRequests.find(requestId);
  if (!pending) throw new AuthorizationRequestExpired();
  const client = await ctx.clientResolver.resolve(pending.clientId);
  if (!client) throw new AuthorizationRequestExpired();
  return { pending, client };
}

export async function describeConsent(
  ctx: Pick<AppContext, 'config' | 'store'>,
  requestId: string,
  pending: PendingAuthorization,
  client: OAuthClientRecord,
  user: SignedInUser,
  options: { choiceMissing?: boolean } = {},
): Promise<ConsentView> {
  const { wikis } = ctx.store.repos;
  const owned = (await wikis.listByOwner(user.did)).map((w) => ({ slug: w.slug, mcpUrl: wikiMcpUrl(ctx.config, w.slug) }));
  const named = pending.wikiSlug === undefined ? undefined : await wikis.findBySlug(pending.wikiSlug);
  const ownsNamed = named !== undefined && named.ownerDid === user.did;
  const identity = describeClientIdentity(client);
  const choices = pending.wikiSlug === undefined ? owned : [];
  return {
    requestId,
    clientName: identity.name,
    clientId: client.clientId,
    client: identity,
    unverified: identity.unverified,
    redirectHost: redirectHostOf(pending.redirectUri),
    scopes: pending.scopes.map((scope) => ({ scope, description: SCOPE_DESCRIPTIONS[scope] })),
    wiki: named && ownsNamed ? { slug: named.slug, mcpUrl: wikiMcpUrl(ctx.config, named.slug) } : undefined,
    foreignWiki: pending.wikiSlug !== undefined && !ownsNamed ? pending.wikiSlug : undefined,
    choices,
    preselected: choices.length === 1 ? choices[0]!.slug : undefined,
    choiceMissing: options.choiceMissing === true,
    nativeAppScheme: isPrivateUseSchemeRedirect(pending.redirectUri) ? new URL(pending.redirectUri).protocol.slice(0, -1) : undefined,
  };
}

export type ConsentDecision =
  /** Back to the client: a code, or access_denied. */
  | { kind: 'redirect'; redirectTo: string }
  /** Allow without a wiki chosen: show the page again; the request stays pending. */
  | { kind: 'choose_wiki' };

/** What the transaction decided; the log line and audit event are written after commit. */
type Decided =
  | { kind: 'expired' }
  | { kind: 'denied'; redirectTo: string; clientId: string; audit: { event: AuditEvent; stored: boolean } }
  | { kind: 'not_owner'; redirectTo: string }
  | { kind: 'approved'; redirectTo: string; clientId: string; wikiSlug: string; audit: { event: AuditEvent; stored: boolean } };

export type ConsentDeps = Pick<AppContext, 'store' | 'config' | 'log'> & Partial<Pick<AppContext, 'audit'>>;

/** Allow → a code; Deny (or a wiki that is not theirs) → access_denied. Either way, back to the client. */
export async function decideConsent(
  ctx: ConsentDeps,
  requestId: string,
  user: SignedInUser,
  decision: 'allow' | 'deny',
  chosenSlug: string | undefined,
  origin: { address?: string } = {},
): Promise<ConsentDecision> {
  // The form marks the choice required; a submit without one (old browser, forged post) is not a decision.
  if (decision === 'allow' && chosenSlug === undefined) {
    const waiting = await ctx.store.repos.authorizationRequests.find(requestId);
    if (waiting && waiting.wikiSlug === undefined) return { kind: 'choose_wiki' };
  }
  // Taking the request and issuing the code are one write: both happen or neither.
  const decided = await ctx.store.transaction((tx) => decidePending(ctx, tx, requestId, user, decision, chosenSlug, origin));
  // Committed: now the effects outside the database (store.ts rule 4).
  switch (decided.kind) {
    case 'expired':
      throw new AuthorizationRequestExpired();
    case 'denied':
      ctx.log.info({ did: user.did, clientId: decided.clientId }, 'authorization denied by user');
      ctx.audit?.announce(decided.audit.event, decided.audit.stored);
      return { kind: 'redirect', redirectTo: decided.redirectTo };
    case 'not_owner':
      return { kind: 'redirect', redirectTo: decided.redirectTo };
    case 'approved':
      ctx.log.info({ did: user.did, clientId: decided.clientId, wiki: decided.wikiSlug }, 'authorization approved');
      ctx.audit?.announce(decided.audit.event, decided.audit.stored);
      return { kind: 'redirect', redirectTo: decided.redirectTo };
  }
}

/** The audit row goes in with the decision (src/audit/audit-log.ts); without an audit log nothing is stored. */
async function auditIn(ctx: ConsentDeps, tx: Repositories, event: AuditEvent): Promise<{ event: AuditEvent; stored: boolean }> {
  return { event, stored: ctx.audit ? await ctx.audit.insertIn(tx, event) : false };
}

async function decidePending(
  ctx: ConsentDeps,
  tx: Repositories,
  requestId: string,
  user: SignedInUser,
  decision: 'allow' | 'deny',
  chosenSlug: string | undefined,
  origin: { address?: string },
): Promise<Decided> {
  // Single use: a DELETE … RETURNING; a concurrent decision (another tab, another instance) gets nothing.
  const pending = await tx.authorizationRequests.consume(requestId);
  if (!pending) return { kind: 'expired' };
  const issuer = ctx.config.publicUrl;
  const denied = (message: string) =>
    new AuthorizationErrorRedirect(pending.redirectUri, issuer, pending.state, new AccessDenied(message)).location;

  if (decision === 'deny') {
    const audit = await auditIn(ctx, tx, { event: 'consent_denied', did: user.did, clientId: pending.clientId, wikiSlug: pending.wikiSlug ?? null, actor: 'person', address: origin.address });
    return { kind: 'denied', redirectTo: denied('The user denied the request.'), clientId: pending.clientId, audit };
  }
  const slug = pending.wikiSlug ?? chosenSlug;
  const wiki = slug === undefined ? undefined : await tx.wikis.findBySlug(slug);
  if (!wiki || wiki.ownerDid !== user.did) {
    return { kind: 'not_owner', redirectTo: denied('The user does not own that wiki.') };
  }
  const resource = wikiMcpUrl(ctx.config, wiki.slug);
  const code = await tx.codes.insert({
    clientId: pending.clientId,
    userDid: user.did,
    wikiSlug: wiki.slug,
    redirectUri: pending.redirectUri,
    redirectUriSent: pending.redirectUriSent,
    codeChallenge: pending.codeChallenge,
    resource,
    scope: formatScope(pending.scopes),
  });
  const audit = await auditIn(ctx, tx, { event: 'consent_given', did: user.did, clientId: pending.clientId, wikiSlug: wiki.slug, actor: 'person', address: origin.address, detail: { scope: formatScope(pending.scopes) } });
  return {
    kind: 'approved',
    redirectTo: authorizationResponseUrl(pending.redirectUri, issuer, { code, state: pending.state }),
    clientId: pending.clientId,
    wikiSlug: wiki.slug,
    audit,
  };
}

function redirectHostOf(uri: string): string {
  try {
    const url = new URL(uri);
    return url.host || `${url.protocol}${url.pathname}`;
  } catch {
    return uri;
  }
}
