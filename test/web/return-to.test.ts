// Open-redirect defence (RFC 9700 §4.11): return_to is honoured only for relative paths on the apex,
// or absolute URLs on the apex or on exactly one wiki label in front of it (same scheme and port).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeReturnTo } from '../../src/web/return-to.ts';

const dev = { publicUrl: 'http://localhost:3000' };
const prod = { publicUrl: 'https://wiki.example' };

/** Where a browser would go when sent a Location of `value` from the apex. */
function landing(value: string, config: { publicUrl: string }): URL {
  return new URL(value, config.publicUrl);
}

describe('safeReturnTo accepts destinations on this deployment', () => {
  it('keeps a relative path with its query and fragment', () => {
    expect(safeReturnTo('/account', dev)).toBe('/account');
    expect(safeReturnTo('/oauth/authorize?client_id=x&state=y#top', dev)).toBe('/oauth/authorize?client_id=x&state=y#top');
    expect(safeReturnTo('/', prod)).toBe('/');
  });

  it('normalises dot segments that stay on the apex', () => {
    expect(safeReturnTo('/a/../account', dev)).toBe('/account');
  });

  it('accepts absolute URLs on the apex', () => {
    expect(safeReturnTo('http://localhost:3000/account', dev)).toBe('http://localhost:3000/account');
    expect(safeReturnTo('https://wiki.example/account?x=1', prod)).toBe('https://wiki.example/account?x=1');
    expect(safeReturnTo('https://WIKI.example/', prod)).toBe('https://wiki.example/');
  });

  it('accepts absolute URLs on a wiki host (one label in front of the apex)', () => {
    expect(safeReturnTo('http://alice.localhost:3000/page', dev)).toBe('http://alice.localhost:3000/page');
    expect(safeReturnTo('https://bob-42.wiki.example/mcp', prod)).toBe('https://bob-42.wiki.example/mcp');
  });

  it('treats the default port as the apex port', () => {
    expect(safeReturnTo('https://wiki.example:443/x', prod)).toBe('https://wiki.example/x');
  });
});

describe('safeReturnTo refuses everything else', () => {
  const refused: [string, string, { publicUrl: string }][] = [
    ['protocol-relative URL', '//evil.example', dev],
    ['protocol-relative URL with path', '//evil.example/account', prod],
    ['backslash after the slash', '/\\evil.example', dev],
    ['backslashes only', '\\\\evil.example', dev],
    ['dot segments collapsing to //host', '/..//evil.example', dev],
    ['single dot collapsing to //host', '/.//evil.example', prod],
    ['encoded dot segments collapsing to //host', '/%2e%2e//evil.example/x', dev],
    ['inner dot segments collapsing to //host', '/a/..//evil.example', dev],
    ['another site', 'https://evil.example', prod],
    ['another site over http', 'http://evil.example/account', dev],
    ['apex port followed by another domain', 'http://localhost:3000.evil.example/', dev],
    ['apex as a label of another domain', 'https://wiki.example.evil.example/', prod],
    ['apex as a label of another domain, with port', 'http://localhost.evil.example:3000/', dev],
    ['apex suffix without a dot', 'https://evilwiki.example/', prod],
    ['javascript: URL', 'javascript:alert(document.cookie)', dev],
    ['data: URL', 'data:text/html,<script>alert(1)</script>', dev],
    ['other scheme on the apex', 'http://wiki.example/account', prod],
    ['https on an http apex', 'https://localhost:3000/', dev],
    ['other port on the apex', 'http://localhost:3001/account', dev],
    ['explicit port on an https apex', 'https://wiki.example:8443/', prod],
    ['other port on a wiki host', 'http://alice.localhost:4000/', dev],
    ['userinfo on the apex', 'https://user@wiki.example/', prod],
    ['userinfo and password on the apex', 'http://user:pw@localhost:3000/', dev],
    ['userinfo hiding another host', 'https://wiki.example@evil.example/', prod],
    ['tab inside a path', '/\t/evil.example', dev],
    ['newline inside a URL', 'https://wiki.example/\nx', prod],
    ['NUL byte', '/account\u0000', dev],
    ['DEL character', '/account\u007f', dev],
    ['two labels in front of the apex', 'https://a.b.wiki.example/', prod],
    ['two labels in front of a dev apex', 'http://a.b.localhost:3000/', dev],
    ['a label starting with a hyphen', 'https://-alice.wiki.example/', prod],
    ['a bare relative path', 'account', dev],
    ['a schemeless host', 'evil.example/account', dev],
    ['the empty string', '', dev],
    ['a value over 2048 characters', `/${'a'.repeat(2048)}`, dev],
  ];
  for (const [why, value, config] of refused) {
    it(`refuses ${why}`, () => {
      expect(safeReturnTo(value, config)).toBeUndefined();
    });
  }

  it('refuses values that are not strings', () => {
    for (const value of [undefined, null, 42, ['/account'], { href: '/account' }]) {
      expect(safeReturnTo(value, dev)).toBeUndefined();
    }
  });
});

describe('safeReturnTo never sends a browser off this deployment', () => {
  // Building blocks of the usual open-redirect payloads, glued together at random.
  const start = fc.constantFrom('/', '', 'http://', 'https://', 'http://localhost:3000', 'https://wiki.example');
  const piece = fc.constantFrom(
    '/', '//', '\\', '.', '..', '%2e', '%2f', '%5c', '@', ':3000', ':443', '?', '#',
    'evil.example', 'localhost', 'wiki.example', 'alice.', 'javascript:', '\t',
  );
  const candidate = fc
    .tuple(start, fc.array(piece, { maxLength: 6 }))
    .map(([first, parts]) => first + parts.join(''));

  for (const [name, config] of [['dev', dev], ['prod', prod]] as const) {
    it(`every accepted value lands on the apex or a wiki host (${name})`, () => {
      const apex = new URL(config.publicUrl);
      fc.assert(
        fc.property(candidate, (value) => {
          const result = safeReturnTo(value, config);
          if (result === undefined) return;
          const target = landing(result, config);
          expect(target.protocol).toBe(apex.protocol);
          expect(target.port).toBe(apex.port);
          expect(target.username + target.password).toBe('');
          const host = target.hostname;
          const onApex = host === apex.hostname;
          const onWiki = host.endsWith(`.${apex.hostname}`) && !host.slice(0, -(apex.hostname.length + 1)).includes('.');
          expect(onApex || onWiki, `${JSON.stringify(value)} → ${result}`).toBe(true);
        }),
        { numRuns: 10_000 },
      );
    });
  }
});
