// RFC 9700 §4.15, draft-ietf-oauth-client-id-metadata-document §6 (SSRF) — GET one https URL chosen
// by a stranger: https only, no redirects, every resolved address public (checked in the socket's
// own DNS lookup, so the address checked is the address connected to), a deadline for the whole
// exchange and a cap on the body (the connection is dropped as soon as it is exceeded).
import dns from 'node:dns';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { isPublicUnicastAddress } from './public-address.ts';

export class SafeFetchError extends Error {
  override name = 'SafeFetchError';
}

export interface SafeFetchOptions {
  /** Development and tests only: allow loopback and private addresses. */
  allowPrivateAddresses: boolean;
  /** Extra PEM certificates to trust besides the system roots (tests use a self-signed one). */
  caCertificates?: string | undefined;
  timeoutMs: number;
  maxBytes: number;
}

export interface FetchedResource {
  body: Buffer;
  contentType: string | undefined;
  cacheControl: string | undefined;
}

/** A socket lookup that fails when any address of the name is not public unicast. */
const publicOnlyLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) {
      callback(err, '');
      return;
    }
    const refused = addresses.find((a) => !isPublicUnicastAddress(a.address));
    const first = addresses[0];
    if (refused || !first) {
      callback(new SafeFetchError(`${hostname} resolves to a non-public address (${refused?.address ?? 'none'})`), '');
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  });
};

export function safeFetch(url: URL, options: SafeFetchOptions): Promise<FetchedResource> {
  if (url.protocol !== 'https:') return Promise.reject(new SafeFetchError('only https URLs are fetched'));
  // The socket does no lookup for an IP literal, so the lookup check would not run: check here.
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivateAddresses && net.isIP(literal) !== 0 && !isPublicUnicastAddress(literal)) {
    return Promise.reject(new SafeFetchError(`${literal} is not a public address`));
  }

  return new Promise<FetchedResource>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, value?: FetchedResource) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (err) {
        req.destroy();
        reject(err);
      } else if (value) {
        resolve(value);
      }
    };

    const req = https.request(url, {
      method: 'GET',
      // A fresh connection each time: no pooled socket to another address, no shared TLS state.
      agent: false,
      lookup: options.allowPrivateAddresses ? undefined : publicOnlyLookup,
      ca: options.caCertificates === undefined ? undefined : [...tls.rootCertificates, options.caCertificates],
      headers: { Accept: 'application/json', 'Accept-Encoding': 'identity', 'User-Agent': 'robot-auth' },
      maxHeaderSize: 16 * 1024,
    });
    const deadline = setTimeout(() => finish(new SafeFetchError(`no complete answer within ${options.timeoutMs} ms`)), options.timeoutMs);

    req.on('error', (err) => finish(err instanceof SafeFetchError ? err : new SafeFetchError(err.message, { cause: err })));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        finish(new SafeFetchError(`answered ${status} (a redirect); redirects are not followed`));
        return;
      }
      if (status !== 200) {
        finish(new SafeFetchError(`answered HTTP ${status}`));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        finish(new SafeFetchError(`the body is larger than ${options.maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          finish(new SafeFetchError(`the body is larger than ${options.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => finish(new SafeFetchError(err.message, { cause: err })));
      // After 'end' this is a no-op (already settled); before it, the body was cut short.
      res.on('close', () => finish(new SafeFetchError('the connection was closed before the body was complete')));
      res.on('end', () => {
        if (!res.complete) {
          finish(new SafeFetchError('the connection was closed before the body was complete'));
          return;
        }
        finish(undefined, {
          body: Buffer.concat(chunks),
          contentType: res.headers['content-type'],
          cacheControl: res.headers['cache-control'],
        });
      });
    });
    req.end();
  });
}
