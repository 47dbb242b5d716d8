// What the account page's "Recent activity" section shows (views/partials/recent-activity.ejs): the
// person's own last 20 audit events, newest first, in words; and its "Disconnect" button's
// revocation with the audit entry it records.
import type { AppContext } from '../context.ts';
import type { AuditEntry, AuditEvent, AuditEventName } from './audit-log.ts';

export const RECENT_ACTIVITY_LIMIT = 20;

const DESCRIPTIONS: Record<AuditEventName, string> = {
  sign_in: 'Signed in',
  signup: 'Created the account',
  sign_out: 'Signed out',
  consent_given: 'Allowed an app',
  consent_denied: 'Denied an app',
  grant_revoked: 'App disconnected',
  refresh_replay_detected: 'An old app token was reused: the app was disconnected',
  code_replay_detected: 'An authorization code was reused: the app was disconnected',
  key_rotated: 'Signing key rotated',
  admin_action: 'Change by the administrator',
  wiki_deleted: 'Deleted a wiki',
  account_deleted: 'Deleted the account',
};

const BY: Record<string, string> = { person: 'by you', client: 'by the app', admin: 'by the administrator', replay: 'for your safety' };

export interface ActivityItem {
  /** ISO 8601 UTC. */
  at: string;
  what: string;
  client: string | null;
  wiki: string | null;
  address: string | null;
}

export async function recentActivity(ctx: Pick<AppContext, 'store'>, did: string): Promise<ActivityItem[]> {
  return (await ctx.store.repos.audit.list({ did, limit: RECENT_ACTIVITY_LIMIT })).map((e: AuditEntry) => ({
    at: new Date(e.at * 1000).toISOString().replace('.000Z', 'Z'),
    what: e.event === 'grant_revoked' && e.actor !== null && BY[e.actor] ? `${DESCRIPTIONS[e.event]} ${BY[e.actor]}` : DESCRIPTIONS[e.event],
    client: e.clientId,
    wiki: e.wikiSlug,
    address: e.address,
  }));
}

/**
 * The account page's revoke button: revokes the person's grant (its refresh tokens go with it) and,
 * when it was theirs and live, stores the audit entry in the same transaction (they commit
 * together, src/audit/audit-log.ts); the entry is announced and counted after commit. False when
 * there was nothing to revoke.
 */
export async function revokeByPerson(
  ctx: Pick<AppContext, 'store' | 'audit' | 'metrics'>,
  did: string,
  grantId: string,
  address: string | undefined,
): Promise<boolean> {
  const revoked = await ctx.store.transaction(async (tx) => {
    if (!(await tx.grants.revokeForUser(grantId, did))) return undefined;
    const grant = await tx.grants.findById(grantId);
    const event: AuditEvent = { event: 'grant_revoked', did, clientId: grant?.clientId ?? null, wikiSlug: grant?.wikiSlug ?? null, actor: 'person', address };
    return { event, stored: await ctx.audit.insertIn(tx, event) };
  });
  if (!revoked) return false;
  ctx.audit.announce(revoked.event, revoked.stored);
  ctx.metrics.grantRevoked('person');
  return true;
}
