// The scopes a wiki's MCP tokens can carry, and how a requested `scope` parameter becomes the
// granted one (RFC 6749 §3.3). The one rule, used at /authorize (authorize/checks/scope.ts) and at
// refresh (token/grants/refresh-token.ts):
//  - a parameter that breaks the §3.3 grammar (scope-token = 1*( %x21 / %x23-5B / %x5D-7E ),
//    tokens separated by single spaces) is refused: invalid_scope;
//  - values we do not know (`claudeai`, `openid email profile`, `offline_access`, …) are ignored:
//    §3.3 lets the server "fully or partially ignore the scope requested" and say so in the
//    token response's `scope`;
//  - when no known value remains (or none was sent), the default applies.
export const WIKI_READ = 'wiki:read';
export const WIKI_WRITE = 'wiki:write';
export const SUPPORTED_SCOPES = [WIKI_READ, WIKI_WRITE] as const;
export type WikiScope = (typeof SUPPORTED_SCOPES)[number];

/** Plain-words description for the consent page. */
export const SCOPE_DESCRIPTIONS: Record<WikiScope, string> = {
  [WIKI_READ]: 'Read the pages of your wiki',
  [WIKI_WRITE]: 'Create and change pages of your wiki',
};

export function isWikiScope(s: string): s is WikiScope {
  return (SUPPORTED_SCOPES as readonly string[]).includes(s);
}

/** RFC 6749 §3.3 scope-token character: %x21 / %x23-5B / %x5D-7E (no space, `"` or `\`). */
function isScopeTokenChar(code: number): boolean {
  return code === 0x21 || (code >= 0x23 && code <= 0x5b) || (code >= 0x5d && code <= 0x7e);
}

/**
 * Parses a scope parameter. Absent or empty: no value (the caller's default applies). Otherwise the
 * RFC 6749 §3.3 grammar must hold, or `invalid` is returned. `known` holds our scopes in canonical
 * order; everything else is listed under `ignored`.
 */
export function parseScope(raw: string | undefined): { invalid: true } | { invalid: false; known: WikiScope[]; ignored: string[] } {
  if (raw === undefined || raw === '') return { invalid: false, known: [], ignored: [] };
  const tokens = raw.split(' ');
  for (const token of tokens) {
    if (token === '') return { invalid: true };
    for (let i = 0; i < token.length; i++) if (!isScopeTokenChar(token.charCodeAt(i))) return { invalid: true };
  }
  const named = new Set(tokens);
  return { invalid: false, known: SUPPORTED_SCOPES.filter((s) => named.has(s)), ignored: [...named].filter((t) => !isWikiScope(t)) };
}

/** The scopes a client may hold: those it registered (only ours count), else every wiki scope. */
export function clientScopes(registered: string | undefined): WikiScope[] {
  const parsed = parseScope(registered?.trim());
  return !parsed.invalid && parsed.known.length > 0 ? parsed.known : [...SUPPORTED_SCOPES];
}

/**
 * What to grant for a requested scope within `allowed` (canonical order): the requested values
 * that are allowed; unknown values ignored; nothing left → all of `allowed`. Undefined: invalid
 * syntax. Whether a known but not allowed value is refused is the caller's rule (see refresh).
 */
export function grantScope(raw: string | undefined, allowed: readonly WikiScope[]): { scopes: WikiScope[]; outside: WikiScope[] } | undefined {
  const parsed = parseScope(raw);
  if (parsed.invalid) return undefined;
  const within = parsed.known.filter((s) => allowed.includes(s));
  const outside = parsed.known.filter((s) => !allowed.includes(s));
  return { scopes: within.length > 0 ? within : [...allowed], outside };
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}
