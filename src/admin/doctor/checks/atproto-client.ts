// ATProto OAuth client metadata (atproto OAuth spec, "Client ID Metadata Document"; confidential
// clients: private_key_jwt with jwks_uri): a PDS fetches {PUBLIC_URL}/auth/client-metadata.json over
// https without following redirects. It must be 200 JSON, its client_id must be exactly its URL, and
// its jwks_uri must serve the public half of ATPROTO_CLIENT_KEYS_FILE (no private members).
import { readKeyFile } from '../../../config/keys.ts';
import { requestOrFail } from '../explain.ts';
import { jsonObject } from '../http.ts';
import type { Check, CheckOutcome, DoctorTarget } from '../types.ts';

async function fetchJson(url: string, target: Pick<DoctorTarget, 'timeoutMs'>): Promise<Record<string, unknown> | CheckOutcome> {
  const answer = await requestOrFail(url, { timeoutMs: target.timeoutMs, headers: { accept: 'application/json' } });
  if ('outcome' in answer) return answer.outcome;
  const res = answer.res;
  if (res.status >= 300 && res.status < 400) {
    return { status: 'fail', seen: `${url} redirects (${res.status})`, advice: 'PDSes do not follow redirects: serve it directly at PUBLIC_URL' };
  }
  const json = res.status === 200 ? jsonObject(res) : { problem: `answered ${res.status}` };
  if ('problem' in json) return { status: 'fail', seen: `${url}: ${json.problem}`, advice: 'the apex must reach the app (Caddyfile)' };
  return json.value;
}

const isOutcome = (v: Record<string, unknown> | CheckOutcome): v is CheckOutcome => typeof v.status === 'string' && typeof v.seen === 'string';

export const atprotoClientCheck: Check = {
  name: 'atproto-client',
  title: 'ATProto client metadata and JWKS, as a PDS fetches them',
  requires: ['tls', 'issuer'],
  async run(target) {
    const url = `${target.publicUrl}/auth/client-metadata.json`;
    if (!url.startsWith('https://')) {
      return { status: 'warn', seen: `${url} is not https (development)`, advice: 'PDSes accept only https client_ids in production' };
    }
    const metadata = await fetchJson(url, target);
    if (isOutcome(metadata)) return metadata;
    if (metadata.client_id !== url) {
      return { status: 'fail', seen: `client_id is ${JSON.stringify(metadata.client_id)}, fetched from ${url}`, advice: 'PDSes refuse it: PUBLIC_URL must be the URL the service is reached at; restart after fixing' };
    }
    const jwksUri = metadata.jwks_uri;
    if (typeof jwksUri !== 'string' || !jwksUri.startsWith('https://')) {
      return { status: 'fail', seen: `jwks_uri is ${JSON.stringify(jwksUri)}`, advice: 'a confidential client needs an https jwks_uri: check PUBLIC_URL' };
    }
    const jwks = await fetchJson(jwksUri, target);
    if (isOutcome(jwks)) return jwks;
    const keys = Array.isArray(jwks.keys) ? (jwks.keys as Array<Record<string, unknown>>) : [];
    if (keys.length === 0) return { status: 'fail', seen: `${jwksUri} holds no keys`, advice: 'check ATPROTO_CLIENT_KEYS_FILE and restart' };
    if (keys.some((k) => 'd' in k)) {
      return { status: 'fail', seen: `${jwksUri} publishes a private key member`, advice: 'replace the ATProto client key at once and restart' };
    }
    let kids: string[] | undefined;
    try {
      kids = readKeyFile(target.atprotoClientKeysFile).map((k) => k.kid);
    } catch {
      kids = undefined;
    }
    if (kids !== undefined && !keys.some((k) => typeof k.kid === 'string' && kids.includes(k.kid))) {
      return { status: 'fail', seen: `${jwksUri} holds none of the keys in ${target.atprotoClientKeysFile}`, advice: 'the service runs another key file than this CLI reads: check ATPROTO_CLIENT_KEYS_FILE, restart' };
    }
    return { status: 'ok', seen: `client_id is its URL; ${keys.length} key(s) at ${jwksUri}${kids === undefined ? ' (key file not readable here)' : ''}` };
  },
};
