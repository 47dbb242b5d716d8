// Two checks of a wiki's /mcp through the proxy, without a token:
//   - mcp-401: MCP authorization spec / RFC 9728 §5.1 — the answer is 401 with a Bearer
//     WWW-Authenticate whose resource_metadata is the wiki's PRM URL (how clients start discovery);
//   - forged-headers: Caddy's forward_auth to /auth/verify must refuse a request that carries the
//     identity headers itself (X-Auth-Wiki, X-Auth-Did, and the X_Auth_Wiki spelling CGI-style
//     stacks fold into the same name): 401, never a 2xx that would reach the wiki as that person.
import { PRM_PATH } from '../../../resource/prm.ts';
import { explain } from '../explain.ts';
import { doctorRequest, type DoctorResponse } from '../http.ts';
import type { Check, DoctorTarget } from '../types.ts';
import { wikiHostOf } from './hosts.ts';
import { NO_WIKI } from './prm.ts';

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'robot-auth-doctor', version: '1' } },
});

function postMcp(target: Pick<DoctorTarget, 'publicUrl' | 'timeoutMs'>, slug: string, extra: Record<string, string>): Promise<DoctorResponse> {
  return doctorRequest(`${wikiHostOf(target, slug).origin}/mcp`, {
    method: 'POST',
    timeoutMs: target.timeoutMs,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...extra },
    body: INITIALIZE,
  });
}

/** RFC 9110 §11.2 auth-param `name="value"` or `name=token` in a challenge; linear scan, no regex on the header. */
export function authParam(header: string, name: string): string | undefined {
  const lower = header.toLowerCase();
  let from = 0;
  for (;;) {
    const at = lower.indexOf(`${name}=`, from);
    if (at === -1) return undefined;
    const before = at === 0 ? ' ' : lower[at - 1];
    from = at + name.length + 1;
    if (before !== ' ' && before !== ',') continue;
    if (header[from] === '"') {
      const end = header.indexOf('"', from + 1);
      return end === -1 ? undefined : header.slice(from + 1, end);
    }
    const end = header.indexOf(',', from);
    return header.slice(from, end === -1 ? undefined : end).trim();
  }
}

export const mcp401Check: Check = {
  name: 'mcp-401',
  title: 'unauthenticated /mcp: 401 and WWW-Authenticate',
  requires: ['tls', 'issuer', 'prm'],
  async run(target) {
    if (target.wikiSlug === undefined) return NO_WIKI;
    const expected = `${wikiHostOf(target, target.wikiSlug).origin}${PRM_PATH}`;
    let res;
    try {
      res = await postMcp(target, target.wikiSlug, {});
    } catch (err) {
      const e = explain(err, wikiHostOf(target, target.wikiSlug).hostname);
      return { status: 'fail', seen: e.seen, advice: e.advice };
    }
    if (res.status !== 401) {
      return {
        status: 'fail',
        seen: `POST /mcp without a token answered ${res.status}`,
        advice: 'it must be 401: wiki hosts must send /mcp through forward_auth to /auth/verify (the shipped Caddyfile does)',
      };
    }
    const challenge = res.headers['www-authenticate'] ?? '';
    const pointer = challenge.trim().toLowerCase().startsWith('bearer') ? authParam(challenge, 'resource_metadata') : undefined;
    if (pointer !== expected) {
      return {
        status: 'fail',
        seen: `WWW-Authenticate is ${JSON.stringify(challenge)}`,
        advice: `clients need Bearer … resource_metadata="${expected}": keep the shipped forward_auth block (it passes the app's 401 on) and PUBLIC_URL right`,
      };
    }
    return { status: 'ok', seen: `401, resource_metadata="${pointer}"` };
  },
};

export const forgedHeadersCheck: Check = {
  name: 'forged-headers',
  title: '/auth/verify behind the proxy refuses forged X-Auth-* headers',
  requires: ['tls', 'prm'],
  async run(target) {
    if (target.wikiSlug === undefined) return NO_WIKI;
    const slug = target.wikiSlug;
    let res;
    try {
      res = await postMcp(target, slug, {
        'X-Auth-Wiki': slug,
        'X-Auth-Did': 'did:plc:doctorforgedheader',
        'X-Auth-Scope': 'wiki:read wiki:write',
        X_Auth_Wiki: slug,
      });
    } catch (err) {
      const e = explain(err, wikiHostOf(target, slug).hostname);
      return { status: 'fail', seen: e.seen, advice: e.advice };
    }
    if (res.status === 401) return { status: 'ok', seen: 'forged identity headers without a token: 401' };
    return {
      status: 'fail',
      seen: `forged identity headers without a token: ${res.status}`,
      advice:
        res.status >= 200 && res.status < 300
          ? 'ANYONE CAN ACT AS ANY USER: the proxy lets client-sent X-Auth-* through. Use the shipped Caddyfile (forward_auth + request_header -X-Auth-*) at once'
          : 'it must be 401: check that /mcp on wiki hosts goes through forward_auth (shipped Caddyfile)',
    };
  },
};
