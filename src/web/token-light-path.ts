// The light path for the issuer's plain POST /auth/oauth/token: the request most clients make most
// often (every refresh, every code exchange), answered before Express's router and body parser
// with exactly what the Express chain answers (app.ts: requestMetrics, requestLog, securityHeaders,
// headerLimits, earlyTokenDispatch → oauthClientCors → client-post.ts's chain → tokenEndpoint's
// step). Measured: docs/benchmarks.md, "Round 6: the token endpoint without Express's router".
//
// The rule that keeps the two paths equal, as in machine-endpoints.ts: the request is taken only in
// the plain case, decided from its headers before anything is read, spent or written; any other
// request goes to Express untouched. Plain: POST at the exact path with no query, on the issuer's
// host (not a wiki host, Host and X-Forwarded-Host agreeing), every limited header within its limit,
// a plain form body (src/oauth/token/form-body.ts: Content-Length, no Content-Encoding, UTF-8), and
// an address whose budget is not spent. Then it reads the body into what body-parser would make of
// it (form-body.ts) and runs the chain's very last step (`answer`, the same instance with the same
// budgets, client-post.ts) on the raw request's body, address and headers. A 200 is written with
// one writeHead: the headers the chain sets, in its order (request id, security headers, CORS,
// no-store, Content-Type). Whatever the step throws goes to the app's error handler, as the router
// would pass it, on the request made an Express one with those headers set. test/web/token-light-path.test.ts sends each variant
// both ways and compares status, headers, body, log line and metric.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Response } from 'express';
import { FORM_BODY_LIMIT, isPlainForm, parseFormBody, RequestAborted } from '../oauth/token/form-body.ts';
import type { PostedRequest } from '../oauth/token/client-post.ts';
import { TOKEN_ANSWER_TYPE, type TokenEndpoint } from '../oauth/token/token.route.ts';
import { OAUTH_PATHS } from '../oauth/paths.ts';
import { corsAnswerHeaders, OAUTH_CLIENT_CORS } from '../resource/cors.ts';
import { wikiSlugOfRequest } from '../wikis/urls.ts';
import { NO_STORE_HEADERS, setNoStore } from './http.ts';
import { hostHeaders, lightPathSwitch, lightRequestKit, readPlainBody, withinHeaderLimits, type Flat, type LightRequestDeps } from './light-request.ts';

const WHERE = 'POST /auth/oauth/token';

/** Answers the request and returns true, or returns false having touched nothing (Express answers it). */
export function tokenLightPath(deps: LightRequestDeps, endpoint: Pick<TokenEndpoint, 'answer' | 'address'>): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { config } = deps.ctx;
  const kit = lightRequestKit(deps);
  const cors = corsAnswerHeaders(OAUTH_CLIENT_CORS);
  // A 200's headers after X-Request-Id, as the chain sets them: security headers, CORS, no-store, then writeTokenAnswer's.
  const ANSWER_HEADERS: Flat = [...kit.security, ...cors, ...NO_STORE_HEADERS.flat(), 'Content-Type', TOKEN_ANSWER_TYPE];
  /** What the chain sets after the security headers, on a response made an Express one for an error: CORS, no-store, JSON errors. */
  const chainHeaders = (s: Response): void => {
    for (let i = 0; i < cors.length; i += 2) s.setHeader(cors[i]!, cors[i + 1]!);
    setNoStore(s);
    s.locals.api = true;
  };

  /** The request's address when the request is the plain case; undefined otherwise. */
  const plain = (req: IncomingMessage): { ip: string | undefined } | undefined => {
    if (req.method !== 'POST' || req.url !== OAUTH_PATHS.token || !withinHeaderLimits(req) || !isPlainForm(req.headers)) return undefined;
    try {
      if (wikiSlugOfRequest(config, hostHeaders(req)) !== undefined) return undefined; // a wiki host: 404 there
    } catch {
      return undefined; // Host and X-Forwarded-Host disagree: Express answers 400
    }
    const ip = kit.requestIp(req);
    return endpoint.address.open(ip) ? { ip } : undefined; // spent: Express's gate answers 429
  };

  return (req, res) => {
    if (!lightPathSwitch.enabled) return false;
    const taken = plain(req);
    if (taken === undefined) return false;
    lightPathSwitch.answered++;
    const id = kit.begin(req, res, OAUTH_PATHS.token, false);
    // Anything but a 200, as the router passes an error on: the request made an Express one with the
    // headers the chain has set by then (request id, security headers, CORS, no-store, JSON errors),
    // and the app's error handler answers it.
    const fail = (err: unknown): void => kit.fail(req, res, id, err, WHERE, chainHeaders);
    readPlainBody(
      req,
      FORM_BODY_LIMIT,
      (bytes) => {
        let body: Record<string, unknown>;
        try {
          body = parseFormBody(bytes);
        } catch (err) {
          return fail(err);
        }
        const posted: PostedRequest = { body, ip: taken.ip, get: (name) => req.headers[name] as string | undefined };
        endpoint.answer(posted).then((json) => {
          const answer = Buffer.from(json); // encoded once, for its length and for the answer
          res.writeHead(200, ['X-Request-Id', id, ...ANSWER_HEADERS, 'Content-Length', String(answer.length)]);
          res.end(answer);
        }, fail);
      },
      () => fail(new RequestAborted()),
    );
    return true;
  };
}
