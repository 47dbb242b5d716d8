// RFC 9700 §4.15 (SSRF) — a WHATWG `fetch` for libraries that fetch URLs strangers chose (the
// ATProto OAuth client: handle, DID document, PDS and authorization-server metadata, PAR, token,
// revocation, and the session's own XRPC calls). Every request goes through outboundRequest, so
// policy.ts decides what may be reached. A redirect is never followed: with redirect 'manual' the
// 3xx answer is returned as it is, otherwise it is an error. A refusal is logged for the operator.
import type { Logger } from 'pino';
import { OutboundRefused, SafeFetchError, type OutboundPolicy } from './policy.ts';
import { outboundRequest, type OutboundLimits } from './request.ts';

export type SafeFetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface SafeFetchFunctionOptions extends OutboundPolicy, OutboundLimits {
  log: Pick<Logger, 'warn'>;
}

/** Statuses whose Response must have a null body (Fetch standard). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function createSafeFetch(options: SafeFetchFunctionOptions): SafeFetchFunction {
  const { log, ...policy } = options;
  return async function safeFetchFunction(input, init) {
    // One shape for (url, init), (Request) and (Request, init) alike.
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    let res;
    try {
      res = await outboundRequest(url, { method: request.method, headers: [...request.headers], body, signal: request.signal }, policy);
    } catch (err) {
      if (err instanceof OutboundRefused) {
        log.warn(
          { target: url.origin, path: url.pathname, reason: err.message },
          'outbound request refused (SSRF policy); if this host is your own PDS, PLC or handle resolver on a private network, add it to OUTBOUND_PRIVATE_HOSTS',
        );
      }
      // What fetch itself throws on a network error, with the reason attached.
      if (err instanceof SafeFetchError) throw new TypeError('fetch failed', { cause: err });
      throw err;
    }
    if (res.status >= 300 && res.status < 400 && request.redirect !== 'manual') {
      throw new TypeError('fetch failed', { cause: new SafeFetchError(`${url.origin} answered ${res.status} (a redirect); redirects are not followed`) });
    }
    if (res.status < 200 || res.status > 599) {
      throw new TypeError('fetch failed', { cause: new SafeFetchError(`${url.origin} answered with status ${res.status}`) });
    }
    const headers = new Headers();
    for (const [name, value] of res.headers) headers.append(name, value);
    return new Response(NULL_BODY_STATUSES.has(res.status) ? null : res.body, { status: res.status, headers });
  };
}
