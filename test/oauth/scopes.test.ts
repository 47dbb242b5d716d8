// RFC 6749 §3.3: the scope grammar is enforced, unknown values are ignored, nothing of ours left
// means the default (src/oauth/scopes.ts).
import { describe, expect, it } from 'vitest';
import { clientScopes, grantScope, parseScope } from '../../src/oauth/scopes.ts';

const ALL = ['wiki:read', 'wiki:write'] as const;

describe('parseScope: the RFC 6749 §3.3 grammar', () => {
  it.each([
    ['two spaces', 'wiki:read  wiki:write'],
    ['a leading space', ' wiki:read'],
    ['a trailing space', 'wiki:read '],
    ['a double quote', 'wiki:"read"'],
    ['a backslash', 'wiki\\read'],
    ['a tab', 'wiki:read\twiki:write'],
    ['a newline', 'wiki:read\nwiki:write'],
    ['a control character', 'wiki:read\u0000'],
    ['a non-ASCII letter', 'wiki:réad'],
    ['DEL', 'wiki:read\u007f'],
  ])('refuses %s', (_name, raw) => {
    expect(parseScope(raw)).toEqual({ invalid: true });
  });

  it('absent or empty: no value; otherwise our scopes in canonical order and the rest ignored', () => {
    expect(parseScope(undefined)).toEqual({ invalid: false, known: [], ignored: [] });
    expect(parseScope('')).toEqual({ invalid: false, known: [], ignored: [] });
    expect(parseScope('openid wiki:write email wiki:read wiki:write')).toEqual({
      invalid: false,
      known: ['wiki:read', 'wiki:write'],
      ignored: ['openid', 'email'],
    });
    expect(parseScope('claudeai')).toEqual({ invalid: false, known: [], ignored: ['claudeai'] });
  });
});

describe('grantScope and clientScopes', () => {
  it('drops unknown and disallowed values; nothing left means everything allowed', () => {
    expect(grantScope('claudeai', ALL)).toEqual({ scopes: ['wiki:read', 'wiki:write'], outside: [] });
    expect(grantScope(undefined, ['wiki:read'])).toEqual({ scopes: ['wiki:read'], outside: [] });
    expect(grantScope('openid wiki:read', ALL)).toEqual({ scopes: ['wiki:read'], outside: [] });
    expect(grantScope('wiki:write', ['wiki:read'])).toEqual({ scopes: ['wiki:read'], outside: ['wiki:write'] });
    expect(grantScope('wiki:read "x"', ALL)).toBeUndefined();
  });

  it("a client's scopes: the wiki scopes it registered, else all of them", () => {
    expect(clientScopes(undefined)).toEqual(ALL);
    expect(clientScopes('wiki:read offline_access')).toEqual(['wiki:read']);
    expect(clientScopes('claudeai')).toEqual(ALL);
    expect(clientScopes('  ')).toEqual(ALL);
  });
});
