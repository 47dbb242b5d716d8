// The scopes a wiki's MCP tokens can carry.
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

/**
 * Parses a space-delimited scope parameter (RFC 6749 §3.3). `offline_access` is accepted and
 * ignored (refresh tokens are always issued). Empty means every supported scope.
 * Returns the sorted scopes, or the unknown ones under `unknown`.
 */
export function parseScope(raw: string | undefined): { scopes: WikiScope[] } | { unknown: string[] } {
  const parts = (raw ?? '').split(' ').filter((s) => s !== '' && s !== 'offline_access');
  const unknown = parts.filter((s) => !isWikiScope(s));
  if (unknown.length > 0) return { unknown };
  const requested = new Set(parts as WikiScope[]);
  return { scopes: SUPPORTED_SCOPES.filter((s) => requested.size === 0 || requested.has(s)) };
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}
