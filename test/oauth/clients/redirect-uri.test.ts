// Redirect URIs: what may be registered (RFC 7591 §2, RFC 8252 §7, RFC 9700 §2.1) and how a
// requested one is matched (exact, except loopback ports; RFC 8252 §7.3).
import { describe, expect, it } from 'vitest';
import type { ClientMetadata } from '../../../src/oauth/clients/client.ts';
import { findRegisteredRedirectUri, redirectUriMatches, redirectUriProblem } from '../../../src/oauth/clients/redirect-uri.ts';

describe('redirectUriProblem: what may be registered', () => {
  it.each([
    'https://claude.ai/api/mcp/auth_callback',
    'https://claude.com/api/mcp/auth_callback',
    'https://app.example/cb?x=1',
    'http://localhost:54321/callback',
    'http://localhost/callback',
    'http://127.0.0.1:8080/cb',
    'http://[::1]:8080/cb',
    'com.example.app:/callback',
    'com.example.app://oauth/callback',
    // RFC 8252 §7.1 private-use schemes of real native clients (public clients only: see the schema).
    'cursor://anysphere.cursor-mcp/oauth/callback',
    'vscode://vscode.github-authentication/did-authenticate',
    'myapp:/callback',
    // VS Code (DCR): its loopback and web redirects.
    'http://127.0.0.1:33418/',
    'http://127.0.0.1/',
    'https://vscode.dev/redirect',
    'https://insiders.vscode.dev/redirect',
  ])('accepts %s', (uri) => {
    expect(redirectUriProblem(uri)).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['/callback', 'not an absolute URI'],
    ['callback', 'not an absolute URI'],
    ['https://app.example/cb#frag', 'fragment'],
    ['https://app.example/cb#', 'fragment'],
    ['http://app.example/cb', 'http on a host other than'],
    ['http://localhost.evil.example/cb', 'http on a host other than'],
    ['http://10.0.0.1/cb', 'http on a host other than'],
    ['http://127.0.0.2/cb', 'http on a host other than'],
    ['javascript:alert(1)', 'javascript scheme'],
    ['JavaScript:alert(1)//x.y', 'javascript scheme'],
    ['data:text/html,hi', 'data scheme'],
    ['file:///etc/passwd', 'file scheme'],
    ['ab:/callback', 'not usable as a native app'],
    ['blob:https://app.example/x', 'blob scheme'],
    ['vbscript:msgbox', 'vbscript scheme'],
    ['about:blank', 'about scheme'],
    ['mailto:a@app.example', 'mailto scheme'],
    ['intent://scan/#Intent;scheme=zxing;end', 'fragment'],
    ['view-source:https://app.example/', 'view-source scheme'],
    ['https://user:pw@app.example/cb', 'user name or password'],
    ['https://user@app.example/cb', 'user name or password'],
    ['http://user@localhost/cb', 'user name or password'],
    ['https://app.example/c b', 'whitespace'],
    ['https://app.example\\@evil.example/cb', 'backslash'],
    [`https://app.example/${'a'.repeat(2000)}`, 'longer than'],
  ])('refuses %j (%s)', (uri, why) => {
    expect(redirectUriProblem(uri)).toContain(why);
  });
});

describe('redirectUriMatches: exact, except loopback ports and names', () => {
  it.each([
    // [requested, registered, matches]
    ['https://claude.ai/api/mcp/auth_callback', 'https://claude.ai/api/mcp/auth_callback', true],
    ['https://claude.ai/api/mcp/auth_callback/', 'https://claude.ai/api/mcp/auth_callback', false],
    ['https://claude.ai/api/mcp/other', 'https://claude.ai/api/mcp/auth_callback', false],
    ['https://claude.ai:8443/api/mcp/auth_callback', 'https://claude.ai/api/mcp/auth_callback', false],
    ['https://CLAUDE.ai/api/mcp/auth_callback', 'https://claude.ai/api/mcp/auth_callback', false],
    ['https://claude.ai/api/mcp/auth_callback?x=1', 'https://claude.ai/api/mcp/auth_callback', false],
    ['https://localhost:9999/cb', 'https://localhost:1234/cb', false],
    ['com.example.app:/callback', 'com.example.app:/callback', true],
    ['com.example.app:/other', 'com.example.app:/callback', false],
    // Private-use schemes (Cursor): exact only, no case or path games.
    ['cursor://anysphere.cursor-mcp/oauth/callback', 'cursor://anysphere.cursor-mcp/oauth/callback', true],
    ['cursor://anysphere.cursor-mcp/oauth/callback/', 'cursor://anysphere.cursor-mcp/oauth/callback', false],
    ['cursor://evil.example/oauth/callback', 'cursor://anysphere.cursor-mcp/oauth/callback', false],
    ['CURSOR://anysphere.cursor-mcp/oauth/callback', 'cursor://anysphere.cursor-mcp/oauth/callback', false],
    // VS Code: registers http://127.0.0.1:33418/ and http://127.0.0.1/, then uses another port when 33418 is busy.
    ['http://127.0.0.1:59656/', 'http://127.0.0.1:33418/', true],
    ['http://127.0.0.1:59656/', 'http://127.0.0.1/', true],
    ['http://127.0.0.1:59656/x', 'http://127.0.0.1/', false],
    ['https://vscode.dev/redirect', 'https://vscode.dev/redirect', true],
    // Claude Code's document lists port-less loopback URIs; the CLI picks a random port.
    ['http://localhost:52163/callback', 'http://localhost/callback', true],
    ['http://127.0.0.1:52163/callback', 'http://127.0.0.1/callback', true],
    // RFC 8252 §7.3: any port on loopback.
    ['http://localhost:54321/callback', 'http://localhost:12345/callback', true],
    ['http://localhost:54321/callback', 'http://localhost/callback', true],
    ['http://127.0.0.1:54321/callback', 'http://localhost:12345/callback', true],
    ['http://[::1]:54321/callback', 'http://localhost/callback', true],
    ['http://localhost:54321/callback', 'http://127.0.0.1/callback', true],
    ['http://localhost:54321/callback', 'http://[::1]:1/callback', true],
    ['http://localhost:54321/callback?a=1', 'http://localhost/callback?a=1', true],
    // ... but the path and query stay exact, and the scheme stays http.
    ['http://localhost:54321/other', 'http://localhost/callback', false],
    ['http://localhost:54321/callback/', 'http://localhost/callback', false],
    ['http://localhost:54321/callback?a=2', 'http://localhost/callback?a=1', false],
    ['http://localhost:54321/callback', 'http://localhost/callback?a=1', false],
    ['http://localhost:54321/callback#x', 'http://localhost/callback', false],
    ['http://user@localhost:54321/callback', 'http://localhost/callback', false],
    ['http://evil.example:54321/callback', 'http://localhost/callback', false],
    ['http://127.0.0.2:54321/callback', 'http://localhost/callback', false],
    ['https://localhost:54321/callback', 'http://localhost/callback', false],
  ])('%s vs registered %s → %s', (requested, registered, expected) => {
    expect(redirectUriMatches(requested, registered)).toBe(expected);
  });
});

describe('findRegisteredRedirectUri', () => {
  const client = (redirect_uris: string[]): { metadata: ClientMetadata } => ({
    metadata: { redirect_uris, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] },
  });

  it('returns the requested URI (with its port) when it matches a registered one', () => {
    expect(findRegisteredRedirectUri(client(['http://localhost:1/callback']), 'http://127.0.0.1:5000/callback')).toBe(
      'http://127.0.0.1:5000/callback',
    );
    expect(findRegisteredRedirectUri(client(['https://a.example/x', 'https://b.example/y']), 'https://b.example/y')).toBe(
      'https://b.example/y',
    );
  });

  it('refuses a requested URI that matches none', () => {
    expect(findRegisteredRedirectUri(client(['https://a.example/x']), 'https://a.example/y')).toBeUndefined();
  });

  it('uses the only registered URI when none is requested, and none when several are registered', () => {
    expect(findRegisteredRedirectUri(client(['https://a.example/x']), undefined)).toBe('https://a.example/x');
    expect(findRegisteredRedirectUri(client(['https://a.example/x', 'https://b.example/y']), undefined)).toBeUndefined();
  });
});
