// What the account page shows beyond the basics (issue 14): per wiki, how to connect each MCP
// client and which ones are connected; the browser sessions; the limits on wikis. Plain data for
// views/account.ejs; the route renders it.
import type { AppContext } from '../context.ts';
import { nowSeconds } from '../db/open.ts';
import { displayNameFor } from '../oauth/clients/client.ts';
import type { ConnectedApp } from '../oauth/grants/grants.repo.ts';
import { wikiLimit } from '../wikis/create-wiki.ts';
import { wikiMcpUrl, wikiOrigin } from '../wikis/urls.ts';
import { describeDevice } from './device.ts';
import { sessionHandle } from './sessions.repo.ts';

export interface WikiConnectView {
  slug: string;
  url: string;
  mcpUrl: string;
  /** `claude mcp add --transport http <slug> <mcpUrl>` (Claude Code's documented form). */
  claudeCodeCommand: string;
  /** The JSON a person pastes into Cursor's mcp.json / VS Code's mcp.json. */
  cursorJson: string;
  vscodeJson: string;
  /** "Claude Code, connected 2 minutes ago". */
  connected: { name: string; since: string }[];
}

export interface SessionView {
  handle: string;
  device: string;
  createdAt: string;
  lastSeen: string;
  current: boolean;
}

/** "just now", "2 minutes ago", "3 hours ago", "5 days ago". */
export function timeAgo(then: number, now = nowSeconds()): string {
  const s = Math.max(0, now - then);
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  if (s < 60) return 'just now';
  if (s < 3600) return plural(Math.floor(s / 60), 'minute');
  if (s < 86400) return plural(Math.floor(s / 3600), 'hour');
  return plural(Math.floor(s / 86400), 'day');
}

const utc = (t: number) => `${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** `grants`: the person's connected apps, which the route has read for its own list (one read for both). */
export async function accountPageData(deps: Pick<AppContext, 'config' | 'store'>, did: string, currentSessionId: string, grants: ConnectedApp[]) {
  const now = nowSeconds();
  const { wikis: wikisRepo, sessions: sessionsRepo } = deps.store.repos;
  const wikis: WikiConnectView[] = (await wikisRepo.listByOwner(did)).map((w) => {
    const mcpUrl = wikiMcpUrl(deps.config, w.slug);
    return {
      slug: w.slug,
      url: wikiOrigin(deps.config, w.slug),
      mcpUrl,
      claudeCodeCommand: `claude mcp add --transport http ${w.slug} ${mcpUrl}`,
      cursorJson: JSON.stringify({ mcpServers: { [w.slug]: { url: mcpUrl } } }, null, 2),
      vscodeJson: JSON.stringify({ servers: { [w.slug]: { type: 'http', url: mcpUrl } } }, null, 2),
      connected: grants
        .filter((g) => g.wikiSlug === w.slug)
        .map((g) => ({ name: displayNameFor(g.clientId, g.clientName), since: `connected ${timeAgo(g.createdAt, now)}` })),
    };
  });
  const sessions: SessionView[] = (await sessionsRepo.listLive(did)).map((s) => ({
    handle: sessionHandle(s.id),
    device: describeDevice(s.userAgent),
    createdAt: utc(s.createdAt),
    lastSeen: s.id === currentSessionId ? 'now' : timeAgo(s.lastSeenAt, now),
    current: s.id === currentSessionId,
  }));
  const limit = wikiLimit(deps.config);
  return { connectWikis: wikis, sessions, wikiLimit: limit, mayCreateWiki: wikis.length < limit, platformHost: deps.config.apexHost, platformScheme: deps.config.scheme };
}

/** The messages a successful action redirects to (`/account?done=…`): fixed text, never user input. */
export const DONE_MESSAGES: Readonly<Record<string, string>> = {
  'wiki-created': 'Your new wiki is ready. Connect an app to it below.',
  'wiki-deleted': 'The wiki was deleted and every app connected to it was disconnected.',
  'session-ended': 'That browser is signed out.',
  'others-ended': 'Every other browser is signed out. Wikis open there notice within 15 minutes at most.',
};
