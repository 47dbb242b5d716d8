// A fetch for MCP SDK clients in tests: Node does not resolve `*.localhost`, so every request is
// sent to 127.0.0.1:PORT with the URL's host in the Host header (as DNS + a proxy would).
import http from 'node:http';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

export function loopbackFetch(port: number): FetchLike {
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
    return new Promise<Response>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, method: init.method ?? 'GET', path: url.pathname + url.search, headers, signal: init.signal ?? undefined },
        (res) => {
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
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
}
