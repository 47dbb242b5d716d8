// RFC 8707 §2 — one spelling per resource indicator, used at /authorize and at /token alike.
// A resource is an absolute URI without a fragment. Two spellings name the same resource when they
// are equal after RFC 3986 §6.2.2–§6.2.3 normalisation: scheme and host case (HTTPS://Alice.Example.org),
// the scheme's default port (:443, :80) and one trailing slash on the path (/mcp/), which clients
// differ on. `HTTPS://Alice.Example.org:443/mcp/` is `https://alice.example.org/mcp`.

/** The normal form of a resource indicator, or undefined when it is not an absolute URI without fragment. */
export function normalizeResource(resource: string): string | undefined {
  if (resource.includes('#')) return undefined;
  let url: URL;
  try {
    // WHATWG URL lowercases scheme and host and drops the default port.
    url = new URL(resource);
  } catch {
    return undefined;
  }
  if (url.pathname.length > 1 && url.pathname.endsWith('/')) url.pathname = url.pathname.slice(0, -1);
  const normal = url.href;
  // `https://alice.example.org` and `https://alice.example.org/` are one resource: no bare slash.
  return url.pathname === '/' && !url.search ? normal.slice(0, -1) : normal;
}

/** Whether two resource indicators name the same resource. */
export function sameResource(a: string, b: string): boolean {
  const na = normalizeResource(a);
  return na !== undefined && na === normalizeResource(b);
}
