// RFC 9728 §3 — a wiki's protected resource metadata, at both well-known URLs clients try
// (/.well-known/oauth-protected-resource/mcp, then /.well-known/oauth-protected-resource): 200 JSON,
// `resource` is the wiki's MCP URL exactly (§3.3), authorization_servers[0] is the issuer.
import { PRM_PATH, PRM_ROOT_PATH } from '../../../resource/prm.ts';
import { requestOrFail } from '../explain.ts';
import { jsonObject } from '../http.ts';
import type { Check, CheckOutcome } from '../types.ts';
import { wikiHostOf } from './hosts.ts';

export const NO_WIKI: CheckOutcome = {
  status: 'warn',
  seen: 'no wiki to check',
  advice: 'create a wiki (or pass --wiki SLUG) to check the wiki side',
};

export const prmCheck: Check = {
  name: 'prm',
  title: "a wiki's protected resource metadata",
  requires: ['tls', 'issuer'],
  async run(target) {
    if (target.wikiSlug === undefined) return NO_WIKI;
    const origin = wikiHostOf(target, target.wikiSlug).origin;
    const resource = `${origin}/mcp`;
    for (const path of [PRM_PATH, PRM_ROOT_PATH]) {
      const url = `${origin}${path}`;
      const answer = await requestOrFail(url, { timeoutMs: target.timeoutMs, headers: { accept: 'application/json' } });
      if ('outcome' in answer) return answer.outcome;
      const res = answer.res;
      if (res.status === 404) {
        return {
          status: 'fail',
          seen: `${url} answered 404: there is no wiki "${target.wikiSlug}"`,
          advice: 'check the slug (`wikis list`); an MCP URL of a wiki that does not exist cannot connect',
        };
      }
      const json = res.status === 200 ? jsonObject(res) : { problem: `answered ${res.status}` };
      if ('problem' in json) return { status: 'fail', seen: `${url}: ${json.problem}`, advice: 'wiki hosts must reach the app for /.well-known/* (Caddyfile)' };
      if (json.value.resource !== resource) {
        return {
          status: 'fail',
          seen: `${url}: resource is ${JSON.stringify(json.value.resource)}, expected "${resource}"`,
          advice: 'clients refuse a resource that is not the URL they were given: PUBLIC_URL must be the apex of the wiki hosts',
        };
      }
      const servers = json.value.authorization_servers;
      if (!Array.isArray(servers) || servers[0] !== target.publicUrl) {
        return { status: 'fail', seen: `${url}: authorization_servers is ${JSON.stringify(servers)}`, advice: `it must be ["${target.publicUrl}"]: check PUBLIC_URL and restart` };
      }
    }
    return { status: 'ok', seen: `both well-known URLs name ${resource}` };
  },
};
