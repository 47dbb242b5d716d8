// The built-in MCP server of a wiki (Streamable HTTP, stateless): a fresh McpServer and transport
// per request, answering in JSON (no SSE). The caller has already passed the bearer check.
import type { Request, Response } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { ErrorCode, isJSONRPCRequest, type JSONRPCErrorResponse } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AppError } from '../../web/errors.ts';
import type { Caller } from '../check-bearer.ts';

export const MCP_SERVER_INFO = { name: 'robot-auth-wiki', version: '0.1.0' } as const;

export interface WhoAmI {
  did: string;
  handle: string;
  wiki: string;
  scopes: string[];
}

/** What the `whoami` tool answers. */
export function whoami(caller: Caller): WhoAmI {
  return { did: caller.did, handle: caller.handle, wiki: caller.wiki, scopes: [...caller.scopes] };
}

/**
 * One JSON Schema validator for every per-request server: it only caches compiled schemas, and
 * building a new one (an Ajv instance) cost most of a whoami call (see docs/benchmarks.md).
 */
const schemaValidator = new AjvJsonSchemaValidator();

export function createWikiMcpServer(caller: Caller): McpServer {
  const server = new McpServer(MCP_SERVER_INFO, { capabilities: { tools: {} }, jsonSchemaValidator: schemaValidator });
  server.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description: 'Shows who this connection acts as: the account (DID and handle), the wiki and the granted scopes.',
      outputSchema: { did: z.string(), handle: z.string(), wiki: z.string(), scopes: z.array(z.string()) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () => {
      const result = whoami(caller);
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: { ...result } };
    },
  );
  return server;
}

/**
 * MCP 2026-07-28 `server/discover` — a server that does not speak that revision answers -32601
 * (method not found) so the client falls back to `initialize`. The SDK 1.32 transport would first
 * refuse the request's `MCP-Protocol-Version: 2026-07-28` with a 400, before the method is looked at.
 */
export function discoverFallback(body: unknown): JSONRPCErrorResponse | undefined {
  if (!isJSONRPCRequest(body) || body.method !== 'server/discover') return undefined;
  return { jsonrpc: '2.0', id: body.id, error: { code: ErrorCode.MethodNotFound, message: 'Method not found' } };
}

/** Serves one MCP POST/DELETE (the body already parsed by express.json) for this caller. */
export async function serveMcpRequest(caller: Caller, req: Request, res: Response): Promise<void> {
  const early = discoverFallback(req.body);
  if (early) {
    res.status(200).json(early);
    return;
  }
  const server = createWikiMcpServer(caller);
  // Stateless: no session id, and a transport must never serve a second request.
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void Promise.allSettled([transport.close(), server.close()]);
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
}

/**
 * MCP 2025-11-25 Streamable HTTP, "Listening for Messages from the Server" — a server that offers no
 * server-to-client stream answers GET with 405. Stateless, ours has nothing to push.
 */
export class EventStreamNotOffered extends AppError {
  constructor() {
    super(405, 'method_not_allowed', 'This MCP endpoint is stateless and offers no event stream; send requests with POST.', {
      headers: { Allow: 'POST, DELETE, OPTIONS' },
    });
  }
}
