// A fetch for MCP SDK clients in tests: every request goes to 127.0.0.1 with the URL's host in the
// Host header, as DNS + a proxy would. Development mode: Node does not resolve `*.localhost`, so
// http requests go to 127.0.0.1:PORT. Production mode (test/production/): https requests to the
// made-up public names go to 127.0.0.1 on the URL's own port (Caddy), with the name as TLS server
// name and the suite's test CA as the only extra trusted root.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

export interface LoopbackFetchOptions {
  /** PEM of a CA to trust besides the system roots (https URLs only). */
  ca?: string;
}

/** `port`: where http URLs go (undefined: the URL's own port); https URLs always use their own port. */
export function loopbackFetch(port: number | undefined, options: LoopbackFetchOptions = {}): FetchLike {
  return async (input, init = {}) => {
    const url = new URL(input);
    const headers: Record<string, string> = { ...Object.fromEntries(new Headers(init.headers).entries()), host: url.host };
    let body: string | undefined;
    if (init.body instanceof URLSearchParams) {
      body = init.body.toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    } else if (typeof init.body === 'string') {
      body = init.body;
    } else if (init.body !== undefined && init.body !== null) {
      throw new Error('loopbackFetch sends string and URLSearchParams bodies only');
    }
    const secure = url.protocol === 'https:';
    const common = { host: '127.0.0.1', method: init.method ?? 'GET', path: url.pathname + url.search, headers, signal: init.signal ?? undefined };
    return new Promise<Response>((resolve, reject) => {
      const onResponse = (res: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, v);
          }
          const data = Buffer.concat(chunks);
          const status = res.statusCode ?? 500;
          const nullBody = data.length === 0 || status === 204 || status === 304;
          resolve(new Response(nullBody ? null : data, { status, headers: responseHeaders }));
        });
      };
      const req = secure
        ? https.request(
            {
              ...common,
              port: Number(url.port || 443),
              servername: url.hostname,
              ca: options.ca === undefined ? undefined : [...tls.rootCertificates, options.ca],
              agent: false,
            },
            onResponse,
          )
        : http.request({ ...common, port: port ?? Number(url.port || 80) }, onResponse);
      req.on('error', reject);
      req.end(body);
    });
  };
}
