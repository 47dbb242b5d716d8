// Usernames double as wiki slugs (`{username}.{apex}`): DNS label rules, lowercase, 3–63 characters.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RESERVED_USERNAMES } from '../../src/config/env.ts';
import { deriveUsername, suggestedUsername, USERNAME_MAX, USERNAME_MIN, usernameProblem } from '../../src/accounts/username.ts';

const reserved: ReadonlySet<string> = new Set(DEFAULT_RESERVED_USERNAMES);

describe('deriveUsername: the first label of the handle, cleaned up', () => {
  it('takes the first label of a bsky.social handle', () => {
    expect(deriveUsername('alice.bsky.social')).toBe('alice');
  });

  it('takes the first label of a custom-domain handle', () => {
    expect(deriveUsername('bob.example.com')).toBe('bob');
    expect(deriveUsername('carol-smith.people.example.org')).toBe('carol-smith');
  });

  it('ignores a leading @, surrounding spaces and upper case', () => {
    expect(deriveUsername('@alice.bsky.social')).toBe('alice');
    expect(deriveUsername('  @Alice.Bsky.Social ')).toBe('alice');
  });

  it('turns odd characters into single hyphens and trims hyphens at the ends', () => {
    expect(deriveUsername('al_ice.example.com')).toBe('al-ice');
    expect(deriveUsername('a__b!!c.example.com')).toBe('a-b-c');
    expect(deriveUsername('-alice-.example.com')).toBe('alice');
    expect(deriveUsername('_alice_.example.com')).toBe('alice');
    expect(deriveUsername('zoë.example.com')).toBe('zo');
  });

  it('collapses the "--" of punycode labels so the suggestion is not refused for it', () => {
    const suggestion = deriveUsername('xn--bcher-kva.example');
    expect(suggestion).toBe('xn-bcher-kva');
    expect(usernameProblem(suggestion, reserved)).toBeUndefined();
  });

  it('cuts a long label to the maximum without leaving a trailing hyphen', () => {
    const label = `${'a'.repeat(USERNAME_MAX - 1)}-bcd`;
    const suggestion = deriveUsername(`${label}.example.com`);
    expect(suggestion).toBe('a'.repeat(USERNAME_MAX - 1));
    expect(suggestion.length).toBeLessThanOrEqual(USERNAME_MAX);
  });

  it('suggests a valid username for ordinary handles', () => {
    for (const handle of ['alice.bsky.social', 'bob-42.example.com', 'u1x9z3k0q7w2e.test', '@Dave.Example.Net']) {
      expect(usernameProblem(deriveUsername(handle), reserved), handle).toBeUndefined();
    }
  });

  it('gives an empty suggestion (never an invalid-character one) when nothing usable is left', () => {
    expect(deriveUsername('___.example.com')).toBe('');
    expect(deriveUsername('')).toBe('');
  });
});

describe('usernameProblem: DNS label rules, 3–63 characters, lowercase, not reserved', () => {
  it('accepts plain lowercase names with digits and inner hyphens', () => {
    for (const name of ['abc', 'alice', 'bob-42', '4ever', 'a-b-c', 'a'.repeat(USERNAME_MAX)]) {
      expect(usernameProblem(name, reserved), name).toBeUndefined();
    }
  });

  it(`refuses names shorter than ${USERNAME_MIN} characters`, () => {
    expect(usernameProblem('ab', reserved)).toMatch(/at least 3 characters/);
    expect(usernameProblem('', reserved)).toMatch(/at least 3 characters/);
  });

  it(`refuses names longer than ${USERNAME_MAX} characters`, () => {
    expect(usernameProblem('a'.repeat(USERNAME_MAX + 1), reserved)).toMatch(/at most 63 characters/);
  });

  it('refuses a leading or trailing hyphen', () => {
    expect(usernameProblem('-alice', reserved)).toMatch(/hyphen/);
    expect(usernameProblem('alice-', reserved)).toMatch(/hyphen/);
  });

  it('refuses upper case', () => {
    expect(usernameProblem('Alice', reserved)).toMatch(/lowercase/);
    expect(usernameProblem('ALICE', reserved)).toMatch(/lowercase/);
  });

  it('refuses characters outside a DNS label', () => {
    for (const name of ['al.ice', 'al_ice', 'al ice', 'alice!', 'zoë', 'al/ice', 'al@ice']) {
      expect(usernameProblem(name, reserved), name).toMatch(/lowercase letters/);
    }
  });

  it('refuses "--" in the 3rd and 4th place (IDNA, RFC 5891 §4.2.3.1)', () => {
    expect(usernameProblem('xn--abc', reserved)).toMatch(/reserved for DNS/);
    expect(usernameProblem('ab--cd', reserved)).toMatch(/reserved for DNS/);
    expect(usernameProblem('abc--d', reserved)).toBeUndefined();
  });

  it('refuses reserved names, and only those in the given set', () => {
    for (const name of ['www', 'admin', 'auth', 'mcp', 'login', 'localhost']) {
      expect(usernameProblem(name, reserved), name).toMatch(/is reserved/);
    }
    expect(usernameProblem('admin', new Set(['other']))).toBeUndefined();
    expect(usernameProblem('zebra', new Set(['zebra']))).toMatch(/"zebra" is reserved/);
  });
});

describe('suggestedUsername', () => {
  it('suggests nothing when the handle could not be verified', () => {
    expect(suggestedUsername('handle.invalid')).toBe('');
  });
  it('suggests the first label otherwise', () => {
    expect(suggestedUsername('alice.bsky.social')).toBe('alice');
  });
});
