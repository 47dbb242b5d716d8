// The budgets of /auth/verify and /mcp (rate-limits.ts grantKeyedLimits.spendFor): a caller the
// bearer check returns spends its grant's budget, a request it refuses spends its address's, and
// exactly one of them, whether the check answered synchronously (a remembered token, SQLite) or
// through a Promise (PostgreSQL, a first read, a touch due).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { grantKeyedLimits } from '../../src/web/rate-limits.ts';

const IP = '203.0.113.7';
// The address budget is ten times the discovery budget per minute: 10 here; the grant's: 2.
const limits = () => grantKeyedLimits(parseConfig({ DATA_DIR: '/nonexistent', RATE_LIMIT_DISCOVERY_PER_MINUTE: '1', RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: '2' }), 'test');
const refusal = new Error('refused');

describe.each([
  ['synchronous', <T>(value: () => T) => value],
  ['through a Promise', <T>(value: () => T) => () => Promise.resolve().then(value)],
] as const)('spendFor, the check answering %s', (mode, answer) => {
  const spend = async (l: ReturnType<typeof limits>, identify: () => { grantId: string }) => {
    const out = l.spendFor(IP, answer(identify));
    // The form of the answer follows the check's: no Promise is made for a synchronous one.
    if (mode === 'synchronous') expect(out).not.toBeInstanceOf(Promise);
    return out;
  };
  const refuse = (l: ReturnType<typeof limits>) =>
    Promise.resolve()
      .then(() =>
        l.spendFor(
          IP,
          answer(() => {
            throw refusal;
          }),
        ),
      )
      .then(
        () => 'answered',
        (err: unknown) => err,
      );

  it("a caller spends its grant's budget, never its address's; past the budget it is refused 429", async () => {
    const l = limits();
    await spend(l, () => ({ grantId: 'g1' }));
    await spend(l, () => ({ grantId: 'g1' }));
    await expect(Promise.resolve().then(() => spend(l, () => ({ grantId: 'g1' })))).rejects.toMatchObject({ status: 429 });
    await spend(l, () => ({ grantId: 'g2' })); // another grant, its own budget
    expect(l.address.open(IP)).toBe(true);
    for (let i = 0; i < 9; i++) await refuse(l);
    expect(l.address.open(IP)).toBe(true); // nine refusals, the grant's 429 not among them
  });

  it("a refusal is passed on as it is and spends the address's budget, never a grant's", async () => {
    const l = limits();
    for (let i = 0; i < 10; i++) expect(await refuse(l)).toBe(refusal);
    expect(l.address.open(IP)).toBe(false);
    await spend(l, () => ({ grantId: 'g1' }));
    await spend(l, () => ({ grantId: 'g1' }));
  });
});
