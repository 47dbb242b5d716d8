// The doctor's own HTTP client, for the deployment this CLI is configured for (PUBLIC_URL, its wiki
// hosts, the app's address, the clock PDS): targets the operator chose, not strangers, so not the
// SSRF-safe fetch (the client documents are fetched through that one, see checks/client-documents.ts).
// Rules: a deadline for the whole exchange, a fresh connection, no redirect followed, a capped body,
// and the system's trust store (plus NODE_EXTRA_CA_CERTS), exactly like a client.
import http from 'node:http';
import https from 'node:https';

export interface DoctorResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

export interface DoctorRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

const MAX_BODY_BYTES = 256 * 1024;

export function doctorRequest(url: string | URL, options: DoctorRequest): Promise<DoctorResponse> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, value?: DoctorResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (value) resolve(value);
      else {
        req.destroy();
        reject(err);
      }
    };
    const headers: Record<string, string> = { 'user-agent': 'robot-auth-doctor', ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = transport.request(target, { method: options.method ?? 'GET', headers, agent: false });
    const deadline = setTimeout(() => finish(new DeadlineError(options.timeoutMs)), options.timeoutMs);
    req.on('error', (err) => finish(err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) finish(new Error(`the body is larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', (err) => finish(err));
      res.on('end', () => {
        const out: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        finish(undefined, { status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(options.body);
  });
}

export class DeadlineError extends Error {
  override name = 'DeadlineError';
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
  }
}

/** The JSON object of a response, or a reason why it is not one. */
export function jsonObject(res: DoctorResponse): { value: Record<string, unknown> } | { problem: string } {
  const type = res.headers['content-type'] ?? '';
  if (!/^application\/(?:[\w.+-]*\+)?json\b/i.test(type)) return { problem: `content-type is "${type || 'missing'}", not application/json` };
  try {
    const value: unknown = JSON.parse(res.body);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'the body is not a JSON object' };
    return { value: value as Record<string, unknown> };
  } catch {
    return { problem: 'the body is not valid JSON' };
  }
}
