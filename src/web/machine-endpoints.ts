// The light path for the GET machine endpoints: AS metadata and the OpenID configuration (RFC 8414),
// the JWKS, each wiki's protected-resource metadata (RFC 9728) and Caddy's forward_auth check
// (/auth/verify). They are nearly all of the traffic; this answers their plain requests before
// Express's router (app.ts hooks it in front of `app.handle`) with exactly what the Express routes
// answer: the same status, headers and body, the same request log line and request metric, the same
// rate-limit budgets (shared instances). Measured: docs/benchmarks.md, "Round 4: machine endpoints".
//
// The rule that keeps the two paths equal: a request is taken here only when it is the plain case,
// decided before anything is spent or written; every other request (another method, HEAD, OPTIONS,
// a query string on a document, a conditional request, another spelling of the path, a header over
// its limit, a Host the wiki-host rules refuse, an unknown wiki, an address whose budget is spent)
// goes to Express untouched, and Express answers it as before. test/web/machine-endpoints.test.ts
// sends each endpoint and those variants both ways and compares status, headers and body.
//   - Documents (metadata, JWKS, PRM): GET at the exact path, no query, no If-None-Match or
//     If-Modified-Since; one writeHead with the precomputed headers (security headers, CORS,
//     Cache-Control, Content-Type, ETag, Content-Length), then the precomputed body. A wiki's PRM
//     is answered for PRM_RECHECK_MS after its row was last read, without reading it again (the
//     one place this path may answer differently: Express would 404 a wiki deleted in between).
//   - /auth/verify at its exact path (any method, as verifyRoutes' own exact-path branch): the
//     prelude Express would run (metric, request id, log line), then verifyRoutes' own check
//     (the same budgets, the same bearer check); a caller is answered with one writeHead of the
//     headers Express sets (request id, no-store, X-Auth-*; no security headers on a 2xx). Its refusals, a query
//     string (?scope=, Express's query parser) and a spent address budget go through Express's code:
//     the request is given Express's prototypes as app.handle does, and the error handler or the
//     very verifyRoutes handler Express mounts answers it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { AppContext } from '../context.ts';
import { jwksCacheControl } from '../config/jwks-cache.ts';
import { settle } from '../lib/maybe-promise.ts';
import { authorizationServerMetadata } from '../oauth/metadata/as-metadata.ts';
import { OAUTH_PATHS } from '../oauth/paths.ts';
import { PRM_PATH, PRM_ROOT_PATH, protectedResourceMetadata } from '../resource/prm.ts';
import { authHeaders, VERIFY_PATH, type VerifyRoutes } from '../resource/verify.route.ts';
import { wikiSlugOfRequest } from '../wikis/urls.ts';
import { NO_STORE_HEADERS, precomputeJson, type PrecomputedJson } from './http.ts';
import { hostHeaders, lightPathSwitch, lightRequestKit, withinHeaderLimits, type Flat, type LightRequestDeps } from './light-request.ts';
import type { DiscoveryLimit } from './rate-limits.ts';
import { QUIET_PATH } from './request-log.ts';

export interface MachineEndpointDeps extends LightRequestDeps {
  ctx: Pick<AppContext, 'config' | 'log' | 'metrics' | 'platformKeys' | 'store'>;
  /** The budgets the Express routes spend (the same instances). */
  discoveryLimit: DiscoveryLimit;
  wikiDiscoveryLimit: DiscoveryLimit;
  /** The handler app.ts mounts for /auth/verify (verifyRoutes(ctx), the same instance: its budgets and its check). */
  verify: VerifyRoutes;
}

/**
 * Answers the request and returns true, or returns false having touched nothing (Express answers it).
 * A PRM request whose wiki was not read in the last PRM_RECHECK_MS waits for the wiki's row (the
 * store is async): its promise says the same, later.
 */
export type LightPath = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** How long a wiki's row, once read, answers its PRM without another read (see knownWikis). */
export const PRM_RECHECK_MS = 30_000;


export function machineEndpoints(deps: MachineEndpointDeps): LightPath {
  const { ctx } = deps;
  const { config } = ctx;
  const kit = lightRequestKit(deps);
  const { security, requestIp, asExpress } = kit;

  /** The headers of a document answer after X-Request-Id and before RateLimit: as the Express routes set them. */
  const documentHeaders = (cacheControl: string, doc: PrecomputedJson): Flat => [
    ...security,
    'Access-Control-Allow-Origin',
    '*',
    // RateLimit and RateLimit-Policy go here (per request).
    'Cache-Control',
    cacheControl,
    'Content-Type',
    'application/json; charset=utf-8',
    'ETag',
    doc.etag,
    'Content-Length',
    String(doc.body.length),
  ];
  // In the flat headers of an answer: after X-Request-Id (2), the security headers and Access-Control-Allow-Origin (2).
  const RATE_AT = 2 + security.length + 2;

  const metadata = precomputeJson(authorizationServerMetadata(config));
  const metadataAnswer = { doc: metadata, headers: documentHeaders('public, max-age=300', metadata) };
  let jwks: { source: unknown; doc: PrecomputedJson; headers: Flat } | undefined;
  const jwksAnswer = () => {
    const source = ctx.platformKeys.publicJwks;
    if (jwks?.source !== source) {
      const doc = precomputeJson(source);
      jwks = { source, doc, headers: documentHeaders(jwksCacheControl(config), doc) };
    }
    return jwks;
  };
  // Each wiki's PRM answer, bounded as wikiHostRoutes bounds its documents.
  const prm = new Map<string, { doc: PrecomputedJson; headers: Flat }>();
  // The wikis whose row was read in the last PRM_RECHECK_MS (request slug → its answer), so
  // that a wiki's PRM is answered without a store read in between: the answer itself tells every
  // cache to keep it for 300 s (Cache-Control), so a wiki deleted a few seconds ago may be answered
  // by any of them anyway. An unknown wiki is never remembered: it goes to Express (404) each time,
  // and a wiki created since is served at once. Bounded like `prm`.
  const knownWikis = new Map<string, { answer: { doc: PrecomputedJson; headers: Flat }; until: number }>();
  const prmAnswer = (slug: string) => {
    let answer = prm.get(slug);
    if (answer === undefined) {
      if (prm.size >= 4096) prm.clear();
      const doc = precomputeJson(protectedResourceMetadata(config, slug));
      answer = { doc, headers: documentHeaders('public, max-age=300', doc) };
      prm.set(slug, answer);
    }
    return answer;
  };

  const document = (req: IncomingMessage, res: ServerResponse, path: string, answer: { doc: PrecomputedJson; headers: Flat }, limit: DiscoveryLimit): true | false => {
    const rate = limit.spendIfLeft(requestIp(req));
    if (rate === undefined) return false; // spent: Express's limiter refuses it
    const id = kit.begin(req, res, path, false);
    const headers = ['X-Request-Id', id, ...answer.headers];
    if (rate !== null) headers.splice(RATE_AT, 0, 'RateLimit', rate[0], 'RateLimit-Policy', rate[1]);
    res.writeHead(200, headers);
    res.end(answer.doc.body);
    return true;
  };

  const renderError = (err: unknown, r: Request, s: Response) => kit.renderError(err, r, s, '/auth/verify');

  /** Everything but the plain case: the very handler Express mounts, on the request made an Express one. */
  const verifyThroughExpress = (req: IncomingMessage, res: ServerResponse, id: string): void => {
    const { r, s } = asExpress(req, res, id);
    const fail: NextFunction = (err?: unknown) => {
      // verifyRoutes never passes its exact path on; if it did, there is nothing else to answer it.
      renderError(err === undefined || err === 'route' || err === 'router' ? new Error('verifyRoutes passed /auth/verify on') : err, r, s);
    };
    try {
      deps.verify(r, s, fail);
    } catch (err) {
      fail(err);
    }
  };

  // The answer to a caller: the headers Express leaves on it (request id, noStore; verify.route.ts
  // takes the security headers off a 2xx), then X-Auth-*.
  const VERIFIED_PREFIX: Flat = [...NO_STORE_HEADERS.flat()];

  const verify = (req: IncomingMessage, res: ServerResponse, query: boolean): void => {
    const id = kit.begin(req, res, VERIFY_PATH, VERIFY_PATH === QUIET_PATH);
    const ip = requestIp(req);
    // A query (?scope=, parsed by Express's query parser) or a spent address budget (429): Express's chain.
    if (query || !deps.verify.addressOpen(ip)) return verifyThroughExpress(req, res, id);
    settle(
      () => deps.verify.check({ ip, hosts: hostHeaders(req), authorization: req.headers.authorization, scope: undefined }),
      (caller) => {
        const headers = authHeaders(caller);
        const flat = ['X-Request-Id', id, ...VERIFIED_PREFIX];
        for (const name in headers) flat.push(name, headers[name]!);
        if (req.method !== 'HEAD') flat.push('Content-Length', '0'); // as res.end() sets it when nothing was written
        res.writeHead(200, flat);
        res.end();
      },
      // As the route's chain has it when its check throws (markResponse), then the error handler.
      (err: unknown) => kit.fail(req, res, id, err, VERIFY_PATH, deps.verify.markResponse),
    );
  };

  return (req, res) => {
    if (!lightPathSwitch.enabled) return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === VERIFY_PATH) {
      if (!withinHeaderLimits(req)) return false;
      lightPathSwitch.answered++;
      verify(req, res, q !== -1);
      return true;
    }
    if (req.method !== 'GET' || q !== -1 || !path.startsWith('/.well-known/')) return false;
    if (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) return false;
    if (!withinHeaderLimits(req)) return false;
    let slug: string | undefined;
    try {
      slug = wikiSlugOfRequest(config, hostHeaders(req));
    } catch {
      return false; // Host and X-Forwarded-Host disagree: Express answers 400
    }
    let answered = false;
    try {
      if (slug === undefined) {
        if (path === '/.well-known/oauth-authorization-server' || path === '/.well-known/openid-configuration') {
          answered = document(req, res, path, metadataAnswer, deps.discoveryLimit);
        } else if (path === OAUTH_PATHS.jwks) {
          answered = document(req, res, path, jwksAnswer(), deps.discoveryLimit);
        }
      } else if (path === PRM_PATH || path === PRM_ROOT_PATH) {
        const known = knownWikis.get(slug);
        if (known !== undefined && known.until > Date.now()) {
          answered = document(req, res, path, known.answer, deps.wikiDiscoveryLimit);
        } else {
          // An unknown wiki, or a storage fault reading it (nothing written yet): Express answers it.
          return ctx.store.repos.wikis.findBySlug(slug).then(
            (wiki) => {
              if (wiki === undefined) {
                knownWikis.delete(slug);
                return false;
              }
              try {
                const answer = prmAnswer(wiki.slug);
                if (knownWikis.size >= 4096) knownWikis.clear();
                knownWikis.set(slug, { answer, until: Date.now() + PRM_RECHECK_MS });
                const found = document(req, res, path, answer, deps.wikiDiscoveryLimit);
                if (found) lightPathSwitch.answered++;
                return found;
              } catch (err) {
                if (!res.headersSent) return false;
                ctx.log.error({ err }, 'the light path failed while answering a PRM request');
                res.destroy();
                return true;
              }
            },
            () => false,
          );
        }
      }
    } catch (err) {
      // Nothing was written before a throw (a storage fault reading the wiki): Express answers it.
      if (res.headersSent) throw err;
      return false;
    }
    if (answered) lightPathSwitch.answered++;
    return answered;
  };
}
