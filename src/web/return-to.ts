// Open-redirect defence (RFC 9700 §4.11): a `return_to` is honoured only when it is a plain
// relative path, or an absolute URL on the apex or on a wiki host of this deployment. This is the
// syntactic check; who may go where is decided by the caller with `returnToTarget` (after sign-in:
// the apex or a wiki the person owns, src/accounts/complete-sign-in.ts).
import type { Config } from '../config/env.ts';

export type ReturnToTarget = { kind: 'apex' } | { kind: 'wiki'; slug: string };

/** Where a value returned by safeReturnTo leads: the apex (relative or absolute), or a wiki host's slug. */
export function returnToTarget(returnTo: string, config: Pick<Config, 'publicUrl'>): ReturnToTarget {
  if (returnTo.startsWith('/')) return { kind: 'apex' };
  const host = new URL(returnTo).hostname.toLowerCase();
  const apexHost = new URL(config.publicUrl).hostname.toLowerCase();
  return host === apexHost ? { kind: 'apex' } : { kind: 'wiki', slug: host.slice(0, -(apexHost.length + 1)) };
}

export function safeReturnTo(value: unknown, config: Pick<Config, 'publicUrl'>): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return undefined;
  // Browsers treat backslashes as slashes and ignore tabs/newlines in URLs: refuse them outright.
  if (/[\\\u0000-\u001f\u007f]/.test(value)) return undefined;
  if (value.startsWith('/')) {
    if (value.startsWith('//')) return undefined;
    const resolved = new URL(value, config.publicUrl);
    const relative = resolved.pathname + resolved.search + resolved.hash;
    // Dot segments can normalise to a protocol-relative `//host` (`/..//evil.example`): refuse that too.
    return resolved.origin === config.publicUrl && !relative.startsWith('//') ? relative : undefined;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const apex = new URL(config.publicUrl);
  if (url.protocol !== apex.protocol || url.username || url.password) return undefined;
  if (url.port !== apex.port) return undefined;
  const host = url.hostname.toLowerCase();
  const apexHost = apex.hostname.toLowerCase();
  if (host === apexHost) return url.href;
  const slug = host.endsWith(`.${apexHost}`) ? host.slice(0, -(apexHost.length + 1)) : undefined;
  // Exactly one label in front of the apex: a wiki host.
  if (slug && /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(slug)) return url.href;
  return undefined;
}
