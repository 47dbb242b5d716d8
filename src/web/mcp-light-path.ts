// The light path for POST /mcp on a wiki host: every MCP tool call an AI client makes, answered
// before Express's router and body parser with exactly what the Express chain answers (app.ts:
// requestMetrics, requestLog, securityHeaders, headerLimits, then wikiHostRoutes → mcp.route.ts's
// chain). Measured: docs/benchmarks.md, "Round 10".
//
// The rule that keeps the two paths equal, as in token-light-path.ts: the request is taken only in
// the plain case, decided from its headers before anything is read, spent or written; any other
// request goes to Express untouched. Plain: POST at the exact path with no query, on a wiki host
// (Host and X-Forwarded-Host agreeing), every limited header within its limit, a plain JSON body
// (src/web/json-body.ts), and an address whose budget is not spent. Then, in the chain's order:
//   1. the bearer check, at once, as the chain runs it before reading the body (mcp.route.ts
//      `check`: the same budgets); a refusal is answered without waiting for the body;
//   2. the body, read into what express.json would make of it (json-body.ts);
//   3. a whoami call in its plainest form (mcp-server.ts whoamiCallOf, with the SDK transport's
//      header checks) is answered with one writeHead: the headers the chain sets, in its order
//      (request id, security headers, CORS, no-store, Content-Type). Any other message goes to
//      the MCP server exactly as the chain's last step hands it (serveMcpRequest), on the request
//      made an Express one with those headers set.
// Whatever a step throws goes to the app's error handler, as the router would pass it on. The one
// known difference is in the log of a client that goes away mid-body while the bearer check is still
// running: neither path answers it, but Express then skips the body (body-parser sees a finished
// request) and hands the server none, where this path logs the aborted body as a refusal. The
// budgets are spent as the chain spends them (test/hardening/rate-limits.test.ts fails if either
// is skipped here).
// test/web/mcp-light-path.test.ts sends each variant both ways and compares status, headers, body,
// log lines and metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { settle } from '../lib/maybe-promise.ts';
import { RequestAborted } from '../oauth/token/form-body.ts';
import type { Caller } from '../resource/check-bearer.ts';
import { loadMcpServer, MCP_PATH, type McpEndpoint } from '../resource/mcp.route.ts';
import { MCP_CORS_ANSWER } from '../resource/cors.ts';
import { wikiSlugOfRequest } from '../wikis/urls.ts';
import { NO_STORE_HEADERS } from './http.ts';
import { isPlainJson, JSON_LIGHT_BODY_LIMIT, parseJsonBody } from './json-body.ts';
import { hostHeaders, lightPathSwitch, lightRequestKit, readPlainBody, withinHeaderLimits, type Flat, type LightRequestDeps } from './light-request.ts';

const WHERE = 'POST /mcp';

/** Answers the request and returns true, or returns false having touched nothing (Express answers it). */
export function mcpLightPath(deps: LightRequestDeps, endpoint: Pick<McpEndpoint, 'address' | 'check' | 'markResponse'>): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { config } = deps.ctx;
  const kit = lightRequestKit(deps);
  // A whoami answer's headers after X-Request-Id, as the chain sets them: security headers, CORS, no-store, then serveMcpRequest's.
  const ANSWER_HEADERS: Flat = [...kit.security, ...MCP_CORS_ANSWER, ...NO_STORE_HEADERS.flat(), 'Content-Type', 'application/json'];

  /** The wiki and the request's address when the request is the plain case; undefined otherwise. */
  const plain = (req: IncomingMessage): { slug: string; ip: string | undefined } | undefined => {
    if (req.method !== 'POST' || req.url !== MCP_PATH || !withinHeaderLimits(req) || !isPlainJson(req.headers)) return undefined;
    let slug: string | undefined;
    try {
      slug = wikiSlugOfRequest(config, hostHeaders(req));
    } catch {
      return undefined; // Host and X-Forwarded-Host disagree: Express answers 400
    }
    if (slug === undefined) return undefined; // not a wiki host: the apex's 404
    const ip = kit.requestIp(req);
    return endpoint.address.open(ip) ? { slug, ip } : undefined; // spent: Express's gate answers 429
  };

  return (req, res) => {
    if (!lightPathSwitch.enabled) return false;
    const taken = plain(req);
    if (taken === undefined) return false;
    lightPathSwitch.answered++;
    const id = kit.begin(req, res, MCP_PATH, false);
    const failNow = (err: unknown): void => kit.fail(req, res, id, err, WHERE, endpoint.markResponse);
    /** Set once an answer is under way (served or refused): nothing else may start one. */
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      failNow(err);
    };

    // Step 2's bytes, gathered while step 1 runs: undefined while they come, or if the client went away.
    let bytes: Buffer | undefined;
    let aborted = false;
    let caller: Caller | undefined;
    const answer = (): void => {
      if (settled || caller === undefined || (bytes === undefined && !aborted)) return;
      if (bytes === undefined) return fail(new RequestAborted());
      settled = true;
      let message: unknown;
      try {
        message = parseJsonBody(bytes);
      } catch (err) {
        return failNow(err);
      }
      serve(req, res, id, caller, message).catch(failNow);
    };
    readPlainBody(
      req,
      JSON_LIGHT_BODY_LIMIT,
      (read) => {
        bytes = read;
        answer();
      },
      () => {
        aborted = true;
        answer();
      },
    );
    settle(
      () => endpoint.check(taken.ip, req.headers.authorization, taken.slug),
      (c) => {
        caller = c;
        answer();
      },
      fail,
    );
    return true;
  };

  async function serve(req: IncomingMessage, res: ServerResponse, id: string, caller: Caller, message: unknown): Promise<void> {
    const mcp = await loadMcpServer();
    const whoamiId = mcp.whoamiCallOf(message);
    if (whoamiId !== undefined && mcp.transportWouldAccept(req)) {
      const bytes = Buffer.from(mcp.whoamiAnswer(caller, whoamiId));
      res.writeHead(200, ['X-Request-Id', id, ...ANSWER_HEADERS, 'Content-Length', String(bytes.length)]);
      res.end(bytes);
      return;
    }
    // Any other message: the chain's last step, on the request as the chain leaves it.
    const { r, s } = kit.asExpress(req, res, id);
    endpoint.markResponse(s);
    r.body = message;
    s.locals.caller = caller;
    await mcp.serveMcpRequest(caller, r, s);
  }
}
