// The doctor's output: one line per check (`ok`, `warn`, `fail`, `skip`, the check's name, what was
// seen), and under a warn or fail an indented `→` line with what to do; a summary last. --json: the
// results as an object for scripts and monitoring.
import type { CheckResult } from './types.ts';

export function formatText(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.status.padEnd(4)}  ${r.name.padEnd(width)}  ${r.seen}`);
    if (r.advice !== undefined && (r.status === 'warn' || r.status === 'fail')) lines.push(`${' '.repeat(6 + width)}  → ${r.advice}`);
  }
  const count = (status: CheckResult['status']) => results.filter((r) => r.status === status).length;
  lines.push('', `${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail, ${count('skip')} skipped`);
  return lines.join('\n');
}

export function formatJson(results: readonly CheckResult[]): string {
  return JSON.stringify({ ok: !results.some((r) => r.status === 'fail'), checks: results }, null, 2);
}
