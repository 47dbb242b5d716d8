// RFC 7517 / RFC 9068 §4 — resource servers verify access tokens with the keys at jwks_uri: the JWKS
// must be reachable and hold the current signing key of the key file (src/config/keys.ts: the first
// `access` key signs), with the same public values, or every fresh token fails to verify.
import fs from 'node:fs';
import { keysOfPurpose, readKeyFile } from '../../../config/keys.ts';
import { keyStoreOf } from '../../keys.ts';
import { sqliteKeyRows } from '../../../config/key-source.ts';
import { OAUTH_PATHS } from '../../../oauth/paths.ts';
import { requestOrFail } from '../explain.ts';
import { jsonObject } from '../http.ts';
import type { Check } from '../types.ts';
import { apexOf } from './hosts.ts';

const PUBLIC_MEMBERS = ['kty', 'n', 'e', 'crv', 'x', 'y'] as const;

export const jwksCheck: Check = {
  name: 'jwks',
  title: 'JWKS reachable, holds the current signing key',
  requires: ['tls'],
  async run(target) {
    const url = `${apexOf(target).origin}${OAUTH_PATHS.jwks}`;
    const answer = await requestOrFail(url, { timeoutMs: target.timeoutMs });
    if ('outcome' in answer) return answer.outcome;
    const res = answer.res;
    const json = res.status === 200 ? jsonObject(res) : { problem: `answered ${res.status}` };
    if ('problem' in json) return { status: 'fail', seen: `${url}: ${json.problem}`, advice: 'the apex must reach the app (Caddyfile)' };
    const published = Array.isArray(json.value.keys) ? (json.value.keys as Array<Record<string, unknown>>) : [];
    if (published.some((k) => 'd' in k)) {
      return { status: 'fail', seen: `${url} publishes a private key member (d)`, advice: 'rotate the keys at once: `keys rotate --drop-previous`, then reload' };
    }
    let signing;
    const source = target.platformKeysKek === undefined ? target.platformKeysFile : 'the platform keys in the database';
    try {
      // Keys in the database (PLATFORM_KEYS_KEK): read there, as the service does.
      const keys = target.platformKeysKek === undefined ? readKeyFile(target.platformKeysFile) : await keyStoreOf({ platformKeysFile: target.platformKeysFile, platformKeysKek: target.platformKeysKek }, target.postgres ? target.postgres.keyRows : async () => sqliteKeyRows(target.db())).read();
      signing = keysOfPurpose(keys, 'access')[0];
    } catch (err) {
      if (target.platformKeysKek !== undefined) {
        return { status: 'warn', seen: `${url} holds ${published.length} keys; cannot read ${source}: ${(err as Error).message}`, advice: 'run doctor with the service\'s --env-file (PLATFORM_KEYS_KEK)' };
      }
      const denied = (err as { code?: unknown }).code === 'EACCES' || !fs.existsSync(target.platformKeysFile);
      return {
        status: 'warn',
        seen: `${url} holds ${published.length} keys; cannot read ${target.platformKeysFile}: ${(err as Error).message}`,
        advice: denied ? 'run doctor as the service user (sudo -u robot-auth) with its --env-file' : 'check PLATFORM_KEYS_FILE',
      };
    }
    if (!signing) return { status: 'fail', seen: `${source} has no access key`, advice: 'run `keys rotate`, then reload' };
    const match = published.find((k) => k.kid === signing.kid);
    if (!match) {
      return {
        status: 'fail',
        seen: `the current signing key ${signing.kid} is not in ${url} (it has ${published.map((k) => String(k.kid)).join(', ') || 'none'})`,
        advice: 'the keys were rotated but the service still runs the old ones (it re-reads them within PLATFORM_KEYS_POLL_SECONDS; check its log for `platform keys changed but could not be loaded`): `systemctl reload robot-auth`',
      };
    }
    const differs = PUBLIC_MEMBERS.filter((m) => (signing as Record<string, unknown>)[m] !== match[m]);
    if (differs.length > 0) {
      return {
        status: 'fail',
        seen: `kid ${signing.kid} is published with other public values (${differs.join(', ')})`,
        advice: 'the service and this CLI read different key files: check PLATFORM_KEYS_FILE, then reload',
      };
    }
    return { status: 'ok', seen: `${published.length} keys; current signing key ${signing.kid} present` };
  },
};
