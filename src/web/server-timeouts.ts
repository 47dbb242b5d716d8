// Keep-alive behind a reverse proxy (RFC 9112 §9.6, §9.8: either side may close an idle persistent
// connection). If the app closed an idle connection while Caddy still considered it reusable, a
// request Caddy sends on it at that instant would fail and its client would get a 502. So the proxy
// must always be the one that closes: Caddy drops idle upstream connections after
// CADDY_UPSTREAM_KEEPALIVE (60 s, set explicitly in the Caddyfile; Caddy's own default is 2 min), and
// the app keeps them at least 15 s longer (Node 24 waits keepAliveTimeoutBuffer, 1 s, more). Node's
// default is 5 s; the 65 s set before was shorter than Caddy's default of 2 min.
import type http from 'node:http';

/** How long the app keeps an idle keep-alive connection open: above the Caddyfile's 60 s upstream keepalive. */
export const KEEP_ALIVE_TIMEOUT_MS = 75_000;

/**
 * Applies the keep-alive rule to the app's HTTP server. headersTimeout stays above keepAliveTimeout,
 * as Node's documentation asks for servers behind a load balancer.
 */
export function applyServerTimeouts(server: http.Server, keepAliveMs: number = KEEP_ALIVE_TIMEOUT_MS): void {
  server.keepAliveTimeout = keepAliveMs;
  server.headersTimeout = keepAliveMs + 1_000;
}
