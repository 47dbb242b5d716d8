// What the account page's "Recent activity" section shows (views/partials/recent-activity.ejs): the
// person's own last 20 audit events, newest first, in words.
import type { AppContext } from '../context.ts';
import type { AuditEntry, AuditEventName } from './audit-log.ts';
// Until this file switches to the Store (branch store-accounts): the SQLite statement, synchronously.
import { listAudit } from '../storage/sqlite/wikis-admin.ts';

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

export function recentActivity(ctx: Pick<AppContext, 'db'>, did: string): ActivityItem[] {
  return listAudit(ctx.db, { did, limit: RECENT_ACTIVITY_LIMIT }).map((e: AuditEntry) => ({
    at: new Date(e.at * 1000).toISOString().replace('.000Z', 'Z'),
    what: e.event === 'grant_revoked' && e.actor !== null && BY[e.actor] ? `${DESCRIPTIONS[e.event]} ${BY[e.actor]}` : DESCRIPTIONS[e.event],
    client: e.clientId,
    wiki: e.wikiSlug,
    address: e.address,
  }));
}

/** The account page's revoke button: the audit entry and the count (after the revocation). */
export function recordRevokedByPerson(ctx: Pick<AppContext, 'audit' | 'metrics' | 'grants'>, did: string, grantId: string, address: string | undefined): void {
  const grant = ctx.grants.findById(grantId);
  ctx.audit.record({ event: 'grant_revoked', did, clientId: grant?.clientId ?? null, wikiSlug: grant?.wikiSlug ?? null, actor: 'person', address });
  ctx.metrics.grantRevoked('person');
}
