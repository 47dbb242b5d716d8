// POST /mcp on a wiki host (MCP 2025-11-25 Streamable HTTP; RFC 6750 §3 for the bearer check): the
// chain Express runs, built once in app.ts and shared with the light path
// (src/web/mcp-light-path.ts) so that both spend the same budgets and run the same steps:
//   mcpCors → noStore → apiResponses → the address budget → the bearer check (wiki:read; the
//   caller spends its grant's budget, a refusal its address's) → express.json → the MCP server.
// The MCP server itself (src/resource/mcp/mcp-server.ts) is loaded on the first MCP request.
import express, { type RequestHandler, type Response } from 'express';
import type { AppContext } from '../context.ts';
import type { MaybePromise } from '../lib/maybe-promise.ts';
import { WIKI_READ } from '../oauth/scopes.ts';
import { apiResponses } from '../web/error-handler.ts';
import { noStore, setNoStore } from '../web/http.ts';
import { grantKeyedLimits, type AddressGate } from '../web/rate-limits.ts';
import { checkBearer, type Caller } from './check-bearer.ts';
import { MCP_CORS_ANSWER, mcpCors } from './cors.ts';
import { wikiSlugOf } from './require-wiki.ts';

/** The MCP endpoint; `/mcp/` is served alike (the router is not strict), never redirected. */
export const MCP_PATH = '/mcp';

/** express.json's limit for an MCP message. */
export const MCP_BODY_LIMIT = 1024 * 1024;

/**
 * The built-in MCP server and its SDK load on the first MCP request, not at start-up: the SDK is
 * ~30 MiB of RSS and ~0.15 s of start-up CPU that a process serving no MCP request never needs
 * (docs/benchmarks.md, "Memory").
 */
let mcpServerModule: Promise<typeof import('./mcp/mcp-server.ts')> | undefined;
export const loadMcpServer = () => (mcpServerModule ??= import('./mcp/mcp-server.ts'));

export interface McpEndpoint {
  /** The chain wikiHostRoutes mounts at MCP_PATH (res.locals.wikiSlug set). */
  handlers: RequestHandler[];
  /** The address budget the chain checks before the bearer check. */
  address: AddressGate;
  /** The bearer check as the chain runs it: the caller (its grant's budget spent), or the error to answer (the address's spent). */
  check(ip: string | undefined, authorization: string | undefined, slug: string): MaybePromise<Caller>;
  /** What the chain sets on the response before its bearer check: CORS, no-store, JSON errors. */
  markResponse(res: Pick<Response, 'setHeader' | 'locals'>): void;
}

export function mcpEndpoint(ctx: AppContext): McpEndpoint {
  const limits = grantKeyedLimits(ctx.config, 'wiki-mcp');
  const check = (ip: string | undefined, authorization: string | undefined, slug: string): MaybePromise<Caller> =>
    limits.spendFor(ip, () => checkBearer(ctx, authorization, slug, WIKI_READ));

  /** RFC 6750 §3 — sets res.locals.caller, or fails with 401/403 (404 for an unknown wiki). */
  const requireBearer: RequestHandler = async (req, res, next) => {
    res.locals.caller = await check(req.ip, req.get('authorization'), wikiSlugOf(res));
    next();
  };

  /** Serves the MCP request for the checked caller; GET (the SSE stream) is not offered. */
  const serveMcp: RequestHandler = async (req, res) => {
    const caller = res.locals.caller;
    if (!caller) throw new Error('MCP request reached without a caller');
    const { EventStreamNotOffered, serveMcpRequest } = await loadMcpServer();
    if (req.method === 'GET' || req.method === 'HEAD') throw new EventStreamNotOffered();
    await serveMcpRequest(caller, req, res);
  };

  return {
    // Every request without a valid token, `initialize` and `server/discover` included, gets the 401 challenge.
    handlers: [mcpCors, noStore, apiResponses, limits.address.check, requireBearer, express.json({ limit: MCP_BODY_LIMIT }), serveMcp],
    address: limits.address,
    check,
    markResponse(res) {
      for (let i = 0; i < MCP_CORS_ANSWER.length; i += 2) res.setHeader(MCP_CORS_ANSWER[i]!, MCP_CORS_ANSWER[i + 1]!);
      setNoStore(res);
      res.locals.api = true;
    },
  };
}
