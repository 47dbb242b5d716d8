// Caddy's on-demand TLS asks the app (GET {APP}/internal/tls-ask?domain=…, src/wikis/tls-ask.route.ts)
// before obtaining a certificate: it must answer 200 for the apex, on the app's own address.
import { TLS_ASK_PATH } from '../../../wikis/tls-ask.route.ts';
import { explain } from '../explain.ts';
import { doctorRequest } from '../http.ts';
import type { Check } from '../types.ts';
import { apexOf } from './hosts.ts';

export const tlsAskCheck: Check = {
  name: 'tls-ask',
  title: 'on-demand TLS ask endpoint answers for the apex',
  async run(target) {
    const apex = apexOf(target).hostname;
    const url = `${target.appUrl}${TLS_ASK_PATH}?domain=${encodeURIComponent(apex)}`;
    let res;
    try {
      res = await doctorRequest(url, { timeoutMs: target.timeoutMs });
    } catch (err) {
      const e = explain(err, new URL(url).host);
      return { status: 'fail', seen: e.seen, advice: `${e.advice}; is the service running (systemctl status robot-auth)? Pass --app URL if it listens elsewhere` };
    }
    if (res.status === 200) return { status: 'ok', seen: `${url} → 200` };
    const advice =
      res.status === 403
        ? 'the app refuses this caller: TRUST_PROXY must include the address Caddy (and this CLI) connects from, e.g. loopback'
        : res.status === 404
          ? 'the app does not take PUBLIC_URL\'s host as its apex: check PUBLIC_URL'
          : 'look at the service log (journalctl -u robot-auth)';
    return { status: 'fail', seen: `${url} → ${res.status}`, advice };
  },
};
