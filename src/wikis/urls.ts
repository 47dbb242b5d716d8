// Where wikis live: `scheme://{slug}.{apex host}`; each wiki's MCP endpoint is `/mcp` on its host.
// Which wiki a request is for: decided by its Host header only (wikiSlugOfRequest), everywhere.
import type { Config } from '../config/env.ts';
import { isDnsLabel } from '../lib/dns-name.ts';
import { BadRequest } from '../web/errors.ts';

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
  return isDnsLabel(slug) ? slug : undefined;
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

/** What wikiSlugOfRequest reads from a request (Express's `req` has it). */
export interface HostHeaders {
  get(name: 'host' | 'x-forwarded-host'): string | undefined;
}

/**
 * A request whose X-Forwarded-Host names another host than its Host. Caddy passes Host through
 * unchanged and routes by it; the wiki servers behind it see the same Host. X-Forwarded-Host is
 * only kept from a proxy Caddy trusts, which may pass on what its own client sent: so a
 * disagreement is either a forgery or a misconfigured proxy, never something to choose from.
 */
export class HostMismatch extends BadRequest {
  constructor(host: string | undefined, forwardedHost: string) {
    super('The Host and X-Forwarded-Host headers name different hosts.', {
      cause: {
        host,
        forwardedHost,
        operator:
          'A client sent an X-Forwarded-Host that differs from its Host, and a proxy kept it. If this is your own load balancer, make it set Host to the name the client asked for (not its own), and have it replace, not pass on, X-Forwarded-Host.',
      },
    });
  }
}

/** A host header value without its port and trailing dot, lower case (`[::1]:80` → `[::1]`). */
function hostnameOf(value: string): string {
  let h = value.trim().toLowerCase();
  const colon = h.lastIndexOf(':');
  if (colon > h.lastIndexOf(']')) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * The wiki a request is for (wiki hosts, and Caddy's forward_auth subrequests, which keep the
 * original Host): the slug named by the Host header, or undefined when neither Host nor
 * X-Forwarded-Host names a wiki (the apex and other hosts are left alone). Throws HostMismatch
 * (400) when either names a wiki and an X-Forwarded-Host entry names another host than Host: the
 * wiki is decided from one header, and the two can never disagree on which.
 */
export function wikiSlugOfRequest(config: Pick<Config, 'apexHost'>, req: HostHeaders): string | undefined {
  const host = req.get('host');
  const slug = slugFromHost(config, host);
  const forwarded = req.get('x-forwarded-host');
  if (forwarded === undefined || forwarded === '') return slug;
  const entries = forwarded.split(',');
  if (slug === undefined && entries.every((entry) => slugFromHost(config, entry.trim()) === undefined)) return undefined;
  const expected = host === undefined ? undefined : hostnameOf(host);
  if (entries.some((entry) => hostnameOf(entry) !== expected)) throw new HostMismatch(host, forwarded);
  return slug;
}
