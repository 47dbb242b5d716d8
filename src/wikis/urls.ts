// Where wikis live: `scheme://{slug}.{apex host}`; each wiki's MCP endpoint is `/mcp` on its host.
import type { Config } from '../config/env.ts';

export function wikiOrigin(config: Pick<Config, 'scheme' | 'apexHost'>, slug: string): string {
  return `${config.scheme}//${slug.toLowerCase()}.${config.apexHost}`;
}

/** The RFC 8707 resource identifier of a wiki: its MCP URL, no trailing slash. */
export function wikiMcpUrl(config: Pick<Config, 'scheme' | 'apexHost'>, slug: string): string {
  return `${wikiOrigin(config, slug)}/mcp`;
}

/** The wiki slug named by a Host header (`alice.example.com[:port]`), or undefined for any other host. */
export function slugFromHost(config: Pick<Config, 'apexHost'>, host: string | undefined): string | undefined {
  if (!host) return undefined;
  const h = host.toLowerCase().replace(/\.$/, '');
  const suffix = `.${config.apexHost.toLowerCase()}`;
  if (!h.endsWith(suffix)) return undefined;
  const slug = h.slice(0, -suffix.length);
  return /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(slug) ? slug : undefined;
}

/** The slug of a resource URL that names one of this deployment's wiki MCP endpoints (trailing slash tolerated). */
export function slugFromResource(config: Pick<Config, 'scheme' | 'apexHost'>, resource: string): string | undefined {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return undefined;
  }
  if (url.protocol !== config.scheme || url.search || url.hash || url.username || url.password) return undefined;
  if (url.pathname !== '/mcp' && url.pathname !== '/mcp/') return undefined;
  return slugFromHost(config, url.host);
}
