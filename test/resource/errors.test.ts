// WWW-Authenticate challenges are built from escaped quoted-strings (RFC 9110 §5.6.4, RFC 6750 §3).
import { describe, expect, it } from 'vitest';
import { bearerChallenge, InsufficientScope, InvalidToken, quoteParam } from '../../src/resource/errors.ts';

const RM = 'https://alice.wiki.example/.well-known/oauth-protected-resource/mcp';

describe('quoteParam', () => {
  it('escapes backslash and double quote', () => {
    expect(quoteParam('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  it('drops characters a header cannot carry (no header injection)', () => {
    expect(quoteParam('a\r\nSet-Cookie: x=1\u0000é')).toBe('"aSet-Cookie: x=1"');
  });
});

describe('bearerChallenge', () => {
  it('leaves out undefined parameters', () => {
    expect(bearerChallenge([['resource_metadata', RM], ['error', undefined]])).toBe(`Bearer resource_metadata="${RM}"`);
    expect(bearerChallenge([])).toBe('Bearer');
  });
});

describe('InvalidToken', () => {
  it('without a token: 401, no error code in the challenge (RFC 6750 §3.1)', () => {
    const err = InvalidToken.missing(RM);
    expect(err.status).toBe(401);
    expect(err.tokenSent).toBe(false);
    expect(err.headers['WWW-Authenticate']).toBe(`Bearer resource_metadata="${RM}", scope="wiki:read wiki:write"`);
  });

  it('with a bad token: error="invalid_token" and an escaped description', () => {
    const err = new InvalidToken(RM, 'say "no"');
    expect(err.status).toBe(401);
    expect(err.code).toBe('invalid_token');
    expect(err.headers['WWW-Authenticate']).toBe(
      `Bearer resource_metadata="${RM}", scope="wiki:read wiki:write", error="invalid_token", error_description="say \\"no\\""`,
    );
  });
});

describe('InsufficientScope', () => {
  it('403 naming the scope needed', () => {
    const err = new InsufficientScope(RM, 'wiki:write');
    expect(err.status).toBe(403);
    expect(err.code).toBe('insufficient_scope');
    expect(err.headers['WWW-Authenticate']).toBe(
      `Bearer resource_metadata="${RM}", scope="wiki:write", error="insufficient_scope", error_description="This request needs the wiki:write scope."`,
    );
  });
});
