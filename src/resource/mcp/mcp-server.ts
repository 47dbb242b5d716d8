// The built-in MCP server of a wiki (MCP 2025-11-25 Streamable HTTP, stateless, JSON answers, no
// SSE). The caller has already passed the bearer check; the SDK sees it as the request's
// `authInfo`, and the whoami tool reads it from there.
//
// Two ways through, one set of JSON-RPC rules (the SDK's McpServer answers every message):
// - The common case, one JSON-RPC request (tools/call, tools/list, ping…) that the SDK's
//   transport would accept as it stands: handed to one long-lived McpServer through
//   `SingleRequestTransport`, which renumbers the request so concurrent callers can never meet,
//   and writes the server's answer as the JSON body. This skips the SDK transport's conversion to
//   Web Request/Response (@hono/node-server) and a new McpServer per request, most of a whoami's
//   CPU (docs/benchmarks.md, "Round 3: verify, MCP and discovery").
// - Everything else (initialize, notifications, batches, headers the transport refuses):
//   a fresh McpServer and the SDK's own StreamableHTTPServerTransport, as before.
// - Before both, `tools/call` of whoami in its plainest form (whoamiCallOf: no _meta, no task, an
//   integer or string id) is answered by the tool's own function without the server's generic
//   request path (zod parsing of the message, the handler lookup, output validation: half a
//   whoami's CPU, docs/benchmarks.md "Round 10"). The answer is the one the server gives, byte
//   for byte (test/resource/mcp/single-request.test.ts sends each shape both ways).
import type { IncomingHttpHeaders } from 'node:http';
import type { Request, Response } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  ErrorCode,
  isJSONRPCRequest,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
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

/** The SDK's AuthInfo for a checked caller (the token itself is never handed on). */
export function authInfoOf(caller: Caller): AuthInfo {
  return { token: caller.jti, clientId: caller.clientId, scopes: [...caller.scopes], extra: { caller } };
}

function callerOf(authInfo: AuthInfo | undefined): Caller {
  const caller = authInfo?.extra?.caller as Caller | undefined;
  // Unreachable through the routes (both ways pass authInfo); never answer for nobody.
  if (caller === undefined) throw new Error('MCP request without a checked caller');
  return caller;
}

/**
 * One JSON Schema validator for every server: it only caches compiled schemas, and building a new
 * one (an Ajv instance) cost most of a whoami call (see docs/benchmarks.md).
 */
const schemaValidator = new AjvJsonSchemaValidator();

/** What the whoami tool returns (CallToolResult): the caller as text and as structured content. */
function whoamiResult(caller: Caller): { content: { type: 'text'; text: string }[]; structuredContent: Record<string, unknown> } {
  const result = whoami(caller);
  return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: { ...result } };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The id of a JSON-RPC `tools/call` of whoami that the server would answer with the tool's result
 * and nothing else: exactly the members jsonrpc "2.0", id (a string or a safe integer), method and
 * params; params with a name of "whoami" and at most `arguments`, an object (whoami takes none and
 * the server ignores them). Anything else (a `_meta`, a task, another tool) is the server's.
 */
export function whoamiCallOf(body: unknown): string | number | undefined {
  if (!isPlainObject(body) || body.jsonrpc !== '2.0' || body.method !== 'tools/call') return undefined;
  const { id, params } = body;
  if (typeof id !== 'string' && !Number.isSafeInteger(id)) return undefined;
  if (!isPlainObject(params) || params.name !== 'whoami') return undefined;
  for (const key in body) if (key !== 'jsonrpc' && key !== 'id' && key !== 'method' && key !== 'params') return undefined;
  for (const key in params) if (key !== 'name' && !(key === 'arguments' && isPlainObject(params.arguments))) return undefined;
  return id as string | number;
}

/** The JSON-RPC answer to a whoami call (whoamiCallOf), as the server writes it. */
export function whoamiAnswer(caller: Caller, id: string | number): string {
  return JSON.stringify({ result: whoamiResult(caller), jsonrpc: '2.0', id });
}

/** A wiki's MCP server; its tools act for the request's caller (`authInfo`), never for a fixed one. */
export function createWikiMcpServer(): McpServer {
  const server = new McpServer(MCP_SERVER_INFO, { capabilities: { tools: {} }, jsonSchemaValidator: schemaValidator });
  server.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description: 'Shows who this connection acts as: the account (DID and handle), the wiki and the granted scopes.',
      outputSchema: { did: z.string(), handle: z.string(), wiki: z.string(), scopes: z.array(z.string()) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (extra) => whoamiResult(callerOf(extra.authInfo)),
  );
  return server;
}

/**
 * MCP 2026-07-28 `server/discover` — a server that does not speak that revision answers -32601
 * (method not found) so the client falls back to `initialize`. The SDK 1.32 transport would first
 * refuse the request's `MCP-Protocol-Version: 2026-07-28` with a 400, before the method is looked at.
 */
export function discoverFallback(body: unknown, isRequest = isJSONRPCRequest(body)): JSONRPCErrorResponse | undefined {
  if (!isRequest || (body as JSONRPCRequest).method !== 'server/discover') return undefined;
  return { jsonrpc: '2.0', id: (body as JSONRPCRequest).id, error: { code: ErrorCode.MethodNotFound, message: 'Method not found' } };
}

type Answer = Extract<JSONRPCMessage, { id: RequestId }> & ({ result: unknown } | { error: unknown });

/**
 * A Transport (the SDK's interface) that carries one request at a time per HTTP request into a
 * long-lived server: each request gets a fresh internal id (a counter), so two callers sending
 * the same JSON-RPC id at once can never receive each other's answer, and the answer goes back
 * with the caller's own id. Notifications a handler sends are dropped, as the SDK's transport
 * drops them in JSON-response mode. When the HTTP client goes away first, the server gets
 * `notifications/cancelled` for the internal id, so the handler's AbortSignal fires and its work stops.
 */
export class SingleRequestTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  private nextId = 0;
  private readonly pending = new Map<number, (answer: Answer) => void>();

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.pending.clear();
    this.onclose?.();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    // The server's own messages: an answer has an id and a result or an error (no schema check needed).
    if (!('id' in message) || !('result' in message || 'error' in message)) return;
    const settle = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
    if (settle === undefined) return; // the HTTP request went away meanwhile
    this.pending.delete(message.id as number);
    settle(message as Answer);
  }

  /** Hands `request` to the server; resolves with its answer under the request's own id, or undefined if `signal` aborts first. */
  request(request: JSONRPCRequest, authInfo: AuthInfo, signal: AbortSignal): Promise<Answer | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    const id = ++this.nextId;
    if (this.nextId >= Number.MAX_SAFE_INTEGER) this.nextId = 0;
    return new Promise((resolve) => {
      const onAbort = () => {
        this.pending.delete(id);
        resolve(undefined);
        // The client went away: cancel the work too, as the SDK path does by closing its server.
        // MCP 2025-11-25 "Cancellation": the server aborts the handler's `extra.signal` for this id.
        this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'the HTTP client went away' } });
      };
      this.pending.set(id, (answer) => {
        signal.removeEventListener('abort', onAbort);
        resolve({ ...answer, id: request.id });
      });
      signal.addEventListener('abort', onAbort, { once: true });
      this.onmessage?.({ ...request, id }, { authInfo });
    });
  }

  /** Requests handed in and not answered yet (for tests). */
  get inFlight(): number {
    return this.pending.size;
  }
}

let shared: { server: McpServer; transport: SingleRequestTransport } | undefined;

/** The long-lived server of the common case, connected on first use. */
export async function sharedServer(): Promise<{ server: McpServer; transport: SingleRequestTransport }> {
  if (shared === undefined) {
    const server = createWikiMcpServer();
    const transport = new SingleRequestTransport();
    await server.connect(transport);
    shared ??= { server, transport };
  }
  return shared;
}

/** The SDK transport's checks of a POST's headers (Accept, Content-Type, MCP-Protocol-Version), with its own predicates. */
export function transportWouldAccept(req: { method?: string; headers: IncomingHttpHeaders }): boolean {
  if (req.method !== 'POST') return false;
  const accept = header(req, 'accept');
  if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return false;
  if (!isJsonContentType(header(req, 'content-type'))) return false;
  const version = header(req, 'mcp-protocol-version');
  return version === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}

function header(req: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The one JSON-RPC request of a POST that the SDK's transport would hand to the server unchanged
 * (the same checks, with the SDK's own predicates): Accept names both application/json and
 * text/event-stream, the Content-Type is JSON, the MCP-Protocol-Version is absent or supported,
 * the body is one request and not `initialize`. Anything else takes the SDK's transport, which
 * answers it (406, 415, 400, 202, batches…) exactly as before.
 */
export function singleRequestOf(req: Request, body: unknown = req.body, isRequest = isJSONRPCRequest(body)): JSONRPCRequest | undefined {
  if (!transportWouldAccept(req)) return undefined;
  // Any `initialize`, valid or not, is the SDK transport's to answer.
  if (!isRequest || (body as JSONRPCRequest).method === 'initialize') return undefined;
  return body as JSONRPCRequest;
}

/** Serves one MCP POST/DELETE (the body already parsed by express.json) for this caller. */
export async function serveMcpRequest(caller: Caller, req: Request, res: Response): Promise<void> {
  const body: unknown = req.body;
  const whoamiId = whoamiCallOf(body);
  if (whoamiId !== undefined && transportWouldAccept(req)) {
    res.status(200).setHeader('Content-Type', 'application/json');
    res.end(whoamiAnswer(caller, whoamiId));
    return;
  }
  const isRequest = isJSONRPCRequest(body); // one schema check for both questions below
  const early = discoverFallback(body, isRequest);
  if (early) {
    res.status(200).json(early);
    return;
  }
  const authInfo = authInfoOf(caller);
  const single = singleRequestOf(req, body, isRequest);
  if (single !== undefined) {
    const { transport } = await sharedServer();
    const gone = new AbortController();
    const onClose = () => gone.abort();
    res.once('close', onClose);
    const answer = await transport.request(single, authInfo, gone.signal);
    res.off('close', onClose);
    if (answer === undefined) return; // the client went away
    res.status(200).setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(answer));
    return;
  }
  await serveWithSdkTransport(authInfo, req, res);
}

/** A fresh server and the SDK's Streamable HTTP transport, for one request (stateless). */
export async function serveWithSdkTransport(authInfo: AuthInfo, req: Request, res: Response): Promise<void> {
  const server = createWikiMcpServer();
  // Stateless: no session id, and a transport must never serve a second request.
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void Promise.allSettled([transport.close(), server.close()]);
  });
  await server.connect(transport);
  (req as Request & { auth?: AuthInfo }).auth = authInfo;
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
