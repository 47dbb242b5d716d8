// RFC 9700 §4.15 (SSRF) — the one place an outbound HTTP exchange happens when a stranger chose
// the URL. policy.ts decides whether the target may be reached (and checks the address actually
// connected to); this file adds what every such exchange needs: a fresh connection (no pooled
// socket to another address), no redirect ever followed (node:http never follows one), a deadline
// for the whole exchange (DNS to last byte), and a cap on the body (the connection is dropped as
// soon as it is exceeded).
import type { OutgoingHttpHeaders } from 'node:http';
import { http, https } from '../node-http.ts';
import tls from 'node:tls';
import { lookupFor, OutboundRefused, SafeFetchError, type OutboundPolicy } from './policy.ts';

export interface OutboundLimits {
  timeoutMs: number;
  maxBytes: number;
}

export interface OutboundRequest {
  method: string;
  headers: [string, string][];
  body?: Buffer | undefined;
  signal?: AbortSignal | undefined;
}

export interface OutboundResponse {
  status: number;
  /** Raw header pairs, in the order received. */
  headers: [string, string][];
  body: Buffer;
}

export function outboundRequest(url: URL, init: OutboundRequest, options: OutboundPolicy & OutboundLimits): Promise<OutboundResponse> {
  let lookup;
  try {
    lookup = lookupFor(url, options);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new OutboundRefused(String(err)));
  }
  if (init.signal?.aborted) return Promise.reject(init.signal.reason);

  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, value?: OutboundResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      init.signal?.removeEventListener('abort', onAbort);
      if (value) {
        resolve(value);
      } else {
        req.destroy();
        reject(err);
      }
    };
    const onAbort = () => finish(init.signal?.reason ?? new SafeFetchError('aborted'));

    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of init.headers) headers[name.toLowerCase()] = value;
    headers['user-agent'] ??= 'robot-auth';
    // An encoded body would need decoding here, and a decompression bomb would get past the cap.
    headers['accept-encoding'] = 'identity';
    if (init.body) headers['content-length'] = String(init.body.length);
    delete headers.connection;
    delete headers.host;

    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(url, {
      method: init.method,
      headers,
      agent: false,
      lookup,
      ...(url.protocol === 'https:' && options.caCertificates !== undefined
        ? { ca: [...tls.getCACertificates('default'), options.caCertificates] }
        : {}),
      maxHeaderSize: 16 * 1024,
    });
    const deadline = setTimeout(() => finish(new SafeFetchError(`no complete answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    init.signal?.addEventListener('abort', onAbort, { once: true });

    req.on('error', (err) => finish(err instanceof SafeFetchError ? err : new SafeFetchError(err.message, { cause: err })));
    req.on('response', (res) => {
      const tooLarge = () => new SafeFetchError(`the body is larger than ${options.maxBytes} bytes`);
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        finish(tooLarge());
        return;
      }
      const encoding = res.headers['content-encoding'];
      if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
        finish(new SafeFetchError(`the body is encoded (${encoding}) although identity was asked for`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          finish(tooLarge());
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
        const pairs: [string, string][] = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i] ?? '', res.rawHeaders[i + 1] ?? '']);
        finish(undefined, { status: res.statusCode ?? 0, headers: pairs, body: Buffer.concat(chunks) });
      });
    });
    req.end(init.body);
  });
}
