// The local clock against a PDS's HTTP Date (RFC 9110 §6.6.1): tokens, DPoP proofs and client
// assertions carry iat/exp, checked with 30 s of leeway here and by PDSes, so a clock off by more
// fails sign-in and token verification in ways that look like anything but a clock.
import { explain } from '../explain.ts';
import { doctorRequest } from '../http.ts';
import type { Check } from '../types.ts';

export const CLOCK_FAIL_SECONDS = 30;
export const CLOCK_WARN_SECONDS = 5;

export const clockCheck: Check = {
  name: 'clock',
  title: "clock against a PDS's HTTP Date",
  async run(target) {
    const url = new URL('/xrpc/_health', target.pdsUrl);
    const sent = target.now();
    let res;
    try {
      res = await doctorRequest(url, { timeoutMs: target.timeoutMs });
    } catch (err) {
      const e = explain(err, url.host);
      return { status: 'warn', seen: `cannot compare the clock: ${e.seen}`, advice: `${e.advice}; or compare with another PDS (--pds URL)` };
    }
    const received = target.now();
    const date = Date.parse(res.headers.date ?? '');
    if (Number.isNaN(date)) return { status: 'warn', seen: `${url.origin} sent no Date header`, advice: 'pass another PDS with --pds URL' };
    // Date has whole seconds: compare with the middle of the exchange, allow the rounding.
    const skew = Math.round(((sent + received) / 2 - date) / 1000);
    const seen = `local clock ${skew >= 0 ? '+' : ''}${skew} s against ${url.origin} (round trip ${received - sent} ms)`;
    if (Math.abs(skew) > CLOCK_FAIL_SECONDS) {
      return { status: 'fail', seen, advice: 'tokens will be refused as expired or not yet valid: enable time sync (timedatectl set-ntp true)' };
    }
    if (Math.abs(skew) > CLOCK_WARN_SECONDS) return { status: 'warn', seen, advice: 'the clock drifts: enable time sync (timedatectl set-ntp true)' };
    return { status: 'ok', seen };
  },
};
