// Open-redirect defence (RFC 9700 §4.11): a `return_to` is honoured only when it is a plain
// relative path, or an absolute URL on the apex or on a wiki host of this deployment.
import type { Config } from '../config/env.ts';

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
