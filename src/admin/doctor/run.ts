// The list of checks, in the order they are printed, and the runner: every check runs at once with
// its own deadline (twice the per-request one), then a check whose prerequisite failed is reported
// as `skip` (one root cause, one fail line). An unexpected throw is a `fail` with the message.
import { atprotoClientCheck } from './checks/atproto-client.ts';
import { backupsCheck } from './checks/backups.ts';
import { clientDocumentCheck } from './checks/client-documents.ts';
import { clockCheck } from './checks/clock.ts';
import { databaseCheck } from './checks/database.ts';
import { dnsCheck } from './checks/dns.ts';
import { issuerCheck } from './checks/issuer.ts';
import { jwksCheck } from './checks/jwks.ts';
import { keyAgeCheck } from './checks/key-age.ts';
import { forgedHeadersCheck, mcp401Check } from './checks/mcp.ts';
import { prmCheck } from './checks/prm.ts';
import { tlsAskCheck } from './checks/tls-ask.ts';
import { tlsCheck } from './checks/tls.ts';
import type { Check, CheckOutcome, CheckResult, DoctorTarget } from './types.ts';

export const CHECKS: readonly Check[] = [
  dnsCheck,
  tlsCheck,
  issuerCheck,
  jwksCheck,
  prmCheck,
  mcp401Check,
  forgedHeadersCheck,
  tlsAskCheck,
  clockCheck,
  atprotoClientCheck,
  clientDocumentCheck('Claude.ai'),
  clientDocumentCheck('ChatGPT'),
  databaseCheck,
  backupsCheck,
  keyAgeCheck,
];

async function withDeadline(check: Check, target: DoctorTarget): Promise<CheckOutcome> {
  const ms = target.timeoutMs * 2;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'fail', seen: `no result within ${ms} ms`, advice: 'something on the way does not answer: retry with --timeout, look at the network' }), ms);
  });
  try {
    return await Promise.race([check.run(target), late]);
  } catch (err) {
    return { status: 'fail', seen: `the check itself failed: ${err instanceof Error ? err.message : String(err)}`, advice: 'report this with the output of --json' };
  } finally {
    clearTimeout(timer);
  }
}

export async function runDoctor(target: DoctorTarget, checks: readonly Check[] = CHECKS): Promise<CheckResult[]> {
  const started = new Map<string, Promise<CheckResult>>();
  const runOne = (check: Check): Promise<CheckResult> => {
    const existing = started.get(check.name);
    if (existing) return existing;
    const promise = (async (): Promise<CheckResult> => {
      // Prerequisites first (they are started once and shared), so a skip never costs a network wait.
      const prerequisites = await Promise.all((check.requires ?? []).flatMap((name) => {
        const required = checks.find((c) => c.name === name);
        return required ? [runOne(required)] : [];
      }));
      const failed = prerequisites.filter((r) => r.status === 'fail' || r.status === 'skip').map((r) => r.name);
      if (failed.length > 0) {
        return { name: check.name, title: check.title, status: 'skip', seen: `not run: ${failed.join(', ')} did not pass`, ms: 0 };
      }
      const t0 = Date.now();
      const outcome = await withDeadline(check, target);
      return { name: check.name, title: check.title, ...outcome, ms: Date.now() - t0 };
    })();
    started.set(check.name, promise);
    return promise;
  };
  return Promise.all(checks.map(runOne));
}

/** 1 when any check failed, else 0 (warnings and skips alone do not fail the run; a skip always follows a fail). */
export function exitStatus(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
