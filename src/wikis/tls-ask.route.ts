// GET /internal/tls-ask?domain=… — the `ask` endpoint of Caddy's on-demand TLS: may Caddy obtain a
// certificate for this name? 200 for the apex host and for `{slug}.{apex}` when that wiki exists and
// was created within the daily cap on new wikis (new-wiki-cap.ts rule 4), 404 for any other name.
// Two indexed reads, no writes: cheap enough for every first handshake.
//
// It is for the proxy only. Caddy calls it directly on the app's own address (the Host is then
// APP_ADDRESS, so the router answers on any host): a peer outside TRUST_PROXY gets 403, and a request
// that came in through a proxy's public side (it carries X-Forwarded-For) gets 404. The Caddyfile
// also answers 404 for /internal/* on every public site.
import { Router, type Request } from 'express';
import type { AppContext } from '../context.ts';
import { apiResponses } from '../web/error-handler.ts';
import { BadRequest, Forbidden, NotFound } from '../web/errors.ts';
import { noStore, singleString } from '../web/http.ts';
import { slugFromHost } from './urls.ts';

export const TLS_ASK_PATH = '/internal/tls-ask';

type TlsAskDeps = Pick<AppContext, 'config' | 'store'>;

/** A DNS name as Caddy sends it (the TLS server name): lowercased, without a trailing dot; undefined if it is not one. */
function normalizeDomain(domain: string): string | undefined {
  const name = domain.trim().toLowerCase().replace(/\.$/, '');
  return name.length > 0 && name.length <= 253 && /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/.test(name) ? name : undefined;
}

/**
 * Whether this deployment serves `domain`: the apex hostname (PUBLIC_URL's host without its port: a
 * server name never has one) or the host of a wiki that exists and was not created past the cap.
 */
export async function mayIssueCertificate(deps: TlsAskDeps, domain: string): Promise<boolean> {
  const name = normalizeDomain(domain);
  if (name === undefined) return false;
  const apexHostname = new URL(deps.config.publicUrl).hostname.toLowerCase();
  if (name === apexHostname) return true;
  const slug = slugFromHost({ apexHost: apexHostname }, name);
  if (slug === undefined) return false;
  const { wikis } = deps.store.repos;
  // new-wiki-cap.ts rule 4 (the repository's createdWithinCap is its statement).
  return (await wikis.findBySlug(slug)) !== undefined && (await wikis.createdWithinCap(slug, deps.config.newWikisPerDay));
}

type TrustProxyFn = (address: string, hop: number) => boolean;

/** Whether the TCP peer itself (never X-Forwarded-For) is one of the proxies TRUST_PROXY names. */
function peerIsTrustedProxy(req: Request): boolean {
  // Express compiles `trust proxy` (app.ts sets it from TRUST_PROXY) into this function.
  const trust: unknown = req.app.get('trust proxy fn');
  const peer = req.socket.remoteAddress;
  return typeof trust === 'function' && peer !== undefined && (trust as TrustProxyFn)(peer, 0) === true;
}

export function tlsAskRoutes(ctx: TlsAskDeps): Router {
  const router = Router();
  router.get(TLS_ASK_PATH, noStore, apiResponses, async (req, res) => {
    if (req.get('x-forwarded-for') !== undefined) throw new NotFound();
    if (!peerIsTrustedProxy(req)) throw new Forbidden('Only the proxy (TRUST_PROXY) may ask for certificates.');
    const domain = singleString(req.query.domain);
    if (domain === undefined) throw new BadRequest('The domain parameter is required, once.');
    if (!(await mayIssueCertificate(ctx, domain))) throw new NotFound('This name is neither the apex nor an existing wiki created within the daily cap.');
    res.status(200).json({ domain: normalizeDomain(domain) });
  });
  return router;
}
