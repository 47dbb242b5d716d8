// `audit [--did DID] [--client CLIENT_ID] [--since WHEN] [--limit N] [--json]`: prints the audit log
// (src/audit/audit-log.ts), newest first. And the admin side of it: every command that changes
// something records an `admin_action` (or `key_rotated`, `grant_revoked` by admin) once it succeeded.
import { createAuditLog, type AuditEntry, type AuditEvent } from '../audit/audit-log.ts';
import { findUser } from './users.ts';
import { nowSeconds } from '../db/open.ts';
import { createLogger } from '../web/log.ts';
import type { Command, CommandContext, OptionValues } from './commands.ts';
import { AdminError } from './errors.ts';
import { formatTable, isoTime, shortTime, toJsonRecord, type Column } from './format.ts';

const columns: Column<AuditEntry>[] = [
  { header: 'TIME', value: (e) => shortTime(e.at) },
  { header: 'EVENT', value: (e) => e.event },
  { header: 'ACTOR', value: (e) => e.actor },
  { header: 'DID', value: (e) => e.did },
  { header: 'CLIENT', value: (e) => e.clientId },
  { header: 'WIKI', value: (e) => e.wikiSlug },
  { header: 'ADDRESS', value: (e) => e.address },
  { header: 'DETAIL', value: (e) => (e.detail ? JSON.stringify(e.detail) : null) },
];

/** `--since`: an ISO 8601 date or time (UTC when no zone is given), or a duration back from now: 30m, 24h, 7d. */
export function parseSince(value: string, now = nowSeconds()): number {
  const units: Record<string, number> = { m: 60, h: 3600, d: 86400 };
  const unit = value.slice(-1);
  const amount = value.slice(0, -1);
  if (units[unit] !== undefined && /^\d{1,6}$/.test(amount)) return now - Number(amount) * units[unit];
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new AdminError(`--since must be a date (2026-01-31), a time (2026-01-31T12:00:00Z) or a duration (30m, 24h, 7d), got "${value}".`);
  }
  return Math.floor(ms / 1000);
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'print the audit log of security events (sign-ins, consents, revocations, replays, admin actions)',
  details: 'Newest first. Entries are kept AUDIT_RETENTION_DAYS (default 90). --since takes 2026-01-31, 2026-01-31T12:00:00Z, 30m, 24h or 7d.',
  options: {
    did: { type: 'string', value: 'DID', description: 'only the events of this person' },
    client: { type: 'string', value: 'CLIENT_ID', description: 'only the events of this OAuth client' },
    since: { type: 'string', value: 'WHEN', description: 'only events at or after WHEN' },
    limit: { type: 'string', value: 'N', description: 'at most N entries (default 1000)' },
    json: { type: 'boolean', description: 'print JSON (snake_case keys, ISO 8601 times) for scripts' },
  },
  run: async ({ values }, ctx) => {
    const limit = values.limit === undefined ? 1000 : Number(values.limit);
    if (!Number.isInteger(limit) || limit <= 0) throw new AdminError('--limit must be a positive integer.');
    const entries = await (await ctx.store()).repos.audit.list({
      did: typeof values.did === 'string' ? values.did : undefined,
      clientId: typeof values.client === 'string' ? values.client : undefined,
      since: typeof values.since === 'string' ? parseSince(values.since) : undefined,
      limit,
    });
    if (values.json === true) ctx.out(JSON.stringify(entries.map(({ at, ...rest }) => ({ at: isoTime(at), ...toJsonRecord(rest) })), null, 2));
    else ctx.out(entries.length === 0 ? 'No audit events.' : formatTable(entries, columns));
  },
};

/** The commands that change something, and the audit event each records when it succeeded. */
const AUDITED: Record<string, (values: OptionValues, args: string[]) => Omit<AuditEvent, 'actor'>> = {
  'sessions revoke': (v) => ({ event: 'admin_action', detail: { command: 'sessions revoke', user: String(v.user) } }),
  'grants revoke': (v) => ({ event: 'grant_revoked', detail: { command: 'grants revoke', user: String(v.user) } }),
  'wikis create': (v, a) => ({ event: 'admin_action', wikiSlug: a[0] ?? null, detail: { command: 'wikis create', user: String(v.user) } }),
  'keys rotate': (v) => ({
    event: 'key_rotated',
    detail: { command: 'keys rotate', purpose: typeof v.purpose === 'string' ? v.purpose : 'access', drop_previous: v['drop-previous'] === true },
  }),
  'keys add-identity': () => ({ event: 'key_rotated', detail: { command: 'keys add-identity', purpose: 'identity' } }),
  'keys retire': (v) => ({ event: 'admin_action', detail: { command: 'keys retire', dry_run: v['dry-run'] === true } }),
};

/** Wraps the mutating commands so that each success is recorded (never failing the command). */
export function recordAdminActions(commands: Command[]): void {
  for (const command of commands) {
    const describe = AUDITED[command.name];
    if (!describe) continue;
    const run = command.run;
    command.run = async (input, ctx: CommandContext) => {
      const status = await run(input, ctx);
      if (input.values['dry-run'] !== true) await recordAdminEvent(ctx, { ...describe(input.values, input.args), actor: 'admin' }, input.values);
      return status;
    };
  }
}

async function recordAdminEvent(ctx: CommandContext, event: AuditEvent, values: OptionValues): Promise<void> {
  try {
    const store = await ctx.store();
    const user = typeof values.user === 'string' ? values.user : undefined;
    const did = user?.startsWith('did:') ? user : user && (await findUser(store.repos, user).catch(() => undefined))?.did;
    await createAuditLog({ store, log: createLogger('silent') }).record({ ...event, did: did ?? null });
  } catch {
    // No database yet (keys generated before the first start) or an older schema: nothing to record into.
  }
}
