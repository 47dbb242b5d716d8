// RFC 9700 §4.15, draft-ietf-oauth-client-id-metadata-document §6 (SSRF) — GET one document whose
// URL a stranger chose (a client ID metadata document, a JWKS): through outboundRequest (policy.ts
// decides what may be reached), https only, and anything but 200 refused, redirects included.
import { SafeFetchError, type OutboundPolicy } from './policy.ts';
import { outboundRequest, type OutboundLimits } from './request.ts';

export { OutboundRefused, SafeFetchError, type OutboundPolicy } from './policy.ts';

export type SafeFetchOptions = Omit<OutboundPolicy, 'allowHttp'> & OutboundLimits;

export interface FetchedResource {
  body: Buffer;
  contentType: string | undefined;
  cacheControl: string | undefined;
}

export async function safeFetch(url: URL, options: SafeFetchOptions): Promise<FetchedResource> {
  const res = await outboundRequest(
    url,
    { method: 'GET', headers: [['accept', 'application/json']] },
    // Documents are https, even in development.
    { ...options, allowHttp: false },
  );
  if (res.status >= 300 && res.status < 400) throw new SafeFetchError(`answered ${res.status} (a redirect); redirects are not followed`);
  if (res.status !== 200) throw new SafeFetchError(`answered HTTP ${res.status}`);
  const header = (name: string) => res.headers.find(([n]) => n.toLowerCase() === name)?.[1];
  return { body: res.body, contentType: header('content-type'), cacheControl: header('cache-control') };
}
