// RFC 8414 §3.3 — the `issuer` of the authorization server metadata is PUBLIC_URL byte for byte;
// MCP clients compare it with the PRM's authorization_servers[0] and with the URL they fetched.
import { OAUTH_PATHS } from '../../../oauth/paths.ts';
import { requestOrFail } from '../explain.ts';
import { jsonObject } from '../http.ts';
import type { Check } from '../types.ts';
import { apexOf } from './hosts.ts';

const AS_METADATA_PATH = '/.well-known/oauth-authorization-server';

export const issuerCheck: Check = {
  name: 'issuer',
  title: 'AS metadata issuer equals PUBLIC_URL',
  requires: ['tls'],
  async run(target) {
    const url = `${apexOf(target).origin}${AS_METADATA_PATH}`;
    const answer = await requestOrFail(url, { timeoutMs: target.timeoutMs, headers: { accept: 'application/json' } });
    if ('outcome' in answer) return answer.outcome;
    const res = answer.res;
    if (res.status !== 200) {
      return { status: 'fail', seen: `${url} answered ${res.status}`, advice: 'the apex must reach the app: check the Caddyfile (PLATFORM_DOMAIN, APP_ADDRESS)' };
    }
    const json = jsonObject(res);
    if ('problem' in json) return { status: 'fail', seen: `${url}: ${json.problem}`, advice: 'the apex must reach the app, not another site' };
    const issuer = json.value.issuer;
    if (issuer !== target.publicUrl) {
      return {
        status: 'fail',
        seen: `issuer is ${JSON.stringify(issuer)}, PUBLIC_URL is "${target.publicUrl}"`,
        advice:
          'clients reject a mismatched issuer: the running service has another PUBLIC_URL than this CLI reads. Make them the same in the environment file and restart the service (systemctl restart robot-auth)',
      };
    }
    const jwksUri = json.value.jwks_uri;
    if (jwksUri !== `${target.publicUrl}${OAUTH_PATHS.jwks}`) {
      return { status: 'warn', seen: `issuer ok; jwks_uri is ${JSON.stringify(jwksUri)}`, advice: `expected ${target.publicUrl}${OAUTH_PATHS.jwks}` };
    }
    return { status: 'ok', seen: `issuer ${issuer}` };
  },
};
