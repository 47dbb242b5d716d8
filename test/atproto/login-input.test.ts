// The sign-in form's identifier (src/atproto/sign-in.ts normaliseLoginInput): a handle is checked
// label by label (src/lib/dns-name.ts). The one pattern it replaced nested a repeated label in a
// repetition; recheck's fuzzer found a near miss it backtracked on, in one CI run of many
// (test/security/redos.test.ts).
// The label check must accept and refuse exactly what that pattern did on a bounded name.
import fc from 'fast-check';
import { check } from 'recheck';
import { describe, expect, it } from 'vitest';
import { normaliseLoginInput } from '../../src/atproto/sign-in.ts';
import { DNS_LABEL_PATTERN } from '../../src/lib/dns-name.ts';

/** The pattern as it was, for comparison only: never run on request input. */
const PREVIOUS = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const previous = (name: string) => (name.length <= 253 && PREVIOUS.test(name) ? name : undefined);

describe('a handle typed into the sign-in form', () => {
  it('accepts handles and refuses what is not one', () => {
    expect(normaliseLoginInput('alice.bsky.social')).toBe('alice.bsky.social');
    expect(normaliseLoginInput(' @Alice.Bsky.Social ')).toBe('alice.bsky.social');
    expect(normaliseLoginInput(`${'a'.repeat(63)}.test`)).toBe(`${'a'.repeat(63)}.test`);
    expect(normaliseLoginInput('a-b.x1')).toBe('a-b.x1');
    for (const refused of ['alice', 'alice.1com', '-a.com', 'a-.com', 'a..com', '.a.com', 'a.com.', `${'a'.repeat(64)}.test`, `${'a.'.repeat(126)}ab`, 'a_b.com', 'a.c\u0000']) {
      expect(normaliseLoginInput(refused), refused).toBeUndefined();
    }
  });

  it('answers as the previous pattern did, on names made of the characters that matter', () => {
    const name = fc.stringMatching(/^[a0.\-_]{0,80}$/).chain((core) =>
      fc.constantFrom(core, `${core}.a`, `a.${core}`, `${'a'.repeat(62)}${core}`, `${core}${'.ab'.repeat(60)}`),
    );
    fc.assert(
      fc.property(name, (typed) => {
        expect(normaliseLoginInput(typed)).toBe(previous(typed.replace(/^@/, '')));
      }),
      { numRuns: 3000 },
    );
  });

  it("the DNS label's pattern (host names, wiki slugs, handles) is proven linear by recheck's automaton, not only by its fuzzer", async () => {
    const result = await check(DNS_LABEL_PATTERN.source, DNS_LABEL_PATTERN.flags);
    expect(result).toMatchObject({ status: 'safe', checker: 'automaton' });
  });
});
