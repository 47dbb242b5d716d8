// An audit event that is a unit of work of its own (sign-in, signup, sign-out, a revocation from the
// account page): stored through the Store (src/storage/store.ts) outside any transaction, so it lands
// in whichever database the service uses, then announced (log line, metric) by the audit log
// (src/audit/audit-log.ts, whose rules apply: a failed insert is logged and swallowed, never fails
// the request). Inside a transaction use `audit.insertIn(tx, …)` and announce after commit instead.
import type { AppContext } from '../context.ts';
import type { AuditEvent } from './audit-log.ts';

export async function recordAudit(deps: Pick<AppContext, 'store' | 'audit'>, event: AuditEvent): Promise<void> {
  const stored = await deps.audit.insertIn(deps.store.repos, event);
  deps.audit.announce(event, stored);
}
