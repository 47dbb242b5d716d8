// Network and TLS errors in plain words, each with what the operator can do about it. Node's codes
// (getaddrinfo, connect, OpenSSL's X509_V_ERR_* names as Node reports them) are matched by name only.
import { DeadlineError, doctorRequest, type DoctorRequest, type DoctorResponse } from './http.ts';
import type { CheckOutcome } from './types.ts';

export interface Explained {
  seen: string;
  advice: string;
}

const BY_CODE: Record<string, (host: string) => Explained> = {
  ENOTFOUND: (host) => ({
    seen: `${host} does not resolve (no such name in DNS)`,
    advice: `check the name; for this deployment's own names add an A/AAAA record (the apex, and the wildcard *.{apex} for wiki hosts)`,
  }),
  EAI_AGAIN: (host) => ({
    seen: `DNS did not answer for ${host} (temporary failure)`,
    advice: 'check /etc/resolv.conf and that this machine can reach its resolver; try again',
  }),
  ECONNREFUSED: (host) => ({
    seen: `${host} refused the connection (nothing listens on that port)`,
    advice: 'start Caddy (systemctl status caddy) or the service, and check the port and firewall',
  }),
  ECONNRESET: (host) => ({ seen: `${host} closed the connection abruptly`, advice: 'look at the proxy log (journalctl -u caddy)' }),
  EHOSTUNREACH: (host) => ({ seen: `${host} is unreachable (no route)`, advice: 'check the address in DNS and the network/firewall' }),
  ENETUNREACH: (host) => ({ seen: `no network route to ${host}`, advice: 'check the outbound network of this machine' }),
  CERT_HAS_EXPIRED: (host) => ({
    seen: `the TLS certificate of ${host} has expired`,
    advice: 'renew it: look at `journalctl -u caddy` for ACME errors (DNS, port 80/443 reachable, rate limits)',
  }),
  DEPTH_ZERO_SELF_SIGNED_CERT: (host) => ({
    seen: `${host} presents a self-signed certificate`,
    advice: 'clients refuse it: let Caddy obtain a certificate (CADDY_TLS_MODE) or install one from a public CA',
  }),
  SELF_SIGNED_CERT_IN_CHAIN: (host) => ({
    seen: `the certificate chain of ${host} ends in an untrusted self-signed root`,
    advice: 'use a certificate from a public CA',
  }),
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: (host) => ({
    seen: `the certificate of ${host} comes without its intermediate certificates`,
    advice: 'serve the full chain (with CADDY_TLS_MODE=files, put the intermediates after the leaf in the certificate file)',
  }),
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: (host) => ({
    seen: `the certificate of ${host} is issued by a CA this machine does not trust`,
    advice: 'serve the full chain from a public CA',
  }),
  ERR_TLS_CERT_ALTNAME_INVALID: (host) => ({
    seen: `the certificate does not name ${host}`,
    advice: 'the certificate must cover the apex and *.{apex} (wildcard) or each wiki host (on-demand TLS)',
  }),
  EPROTO: (host) => ({
    seen: `TLS handshake with ${host} failed`,
    advice: 'is it serving https on that port? With on-demand TLS, check that the ask endpoint approves the name',
  }),
};

/** An error from a request to `host`, in plain words. */
export function explain(err: unknown, host: string): Explained {
  if (err instanceof DeadlineError) {
    return { seen: `${host}: ${err.message}`, advice: 'check that the host is up and that no firewall drops the traffic' };
  }
  const code = codeOf(err);
  const known = code === undefined ? undefined : BY_CODE[code];
  if (known) return known(host);
  const message = err instanceof Error ? err.message : String(err);
  return { seen: `${host}: ${message}${code ? ` (${code})` : ''}`, advice: 'check the network path to this host' };
}

function codeOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = e.cause;
  }
  return undefined;
}

/** One request of a check: the answer, or (target unreachable, TLS refused, deadline) the check's `fail` in plain words. */
export async function requestOrFail(url: string, options: DoctorRequest): Promise<{ res: DoctorResponse } | { outcome: CheckOutcome }> {
  try {
    return { res: await doctorRequest(url, options) };
  } catch (err) {
    const e = explain(err, new URL(url).host);
    return { outcome: { status: 'fail', seen: e.seen, advice: e.advice } };
  }
}
