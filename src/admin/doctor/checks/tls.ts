// TLS as a client sees it, for the apex and the wiki host: the chain verifies against the system's
// trust store, the certificate names the host (RFC 6125 via tls.checkServerIdentity), and it does not
// expire within --tls-warn-days, default 14 (warn) or has not already expired (fail).
import tls from 'node:tls';
import { explain } from '../explain.ts';
import type { Check, CheckOutcome } from '../types.ts';
import { hostsOf, type Host } from './hosts.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

interface Seen {
  certificate: tls.PeerCertificate;
  /** The chain's verification error (Node's code), if any. */
  chainError: string | undefined;
}

function handshake(host: Host, timeoutMs: number): Promise<Seen> {
  return new Promise((resolve, reject) => {
    // rejectUnauthorized false only to read what is wrong: the verdict below is the client's.
    const socket = tls.connect({ host: host.hostname, port: host.port, servername: host.hostname, rejectUnauthorized: false });
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no TLS handshake within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(deadline);
      const certificate = socket.getPeerCertificate(false);
      const error = socket.authorizationError;
      socket.destroy();
      resolve({ certificate, chainError: error === null ? undefined : String((error as unknown as { code?: string }).code ?? error) });
    });
    socket.once('error', (err) => {
      clearTimeout(deadline);
      socket.destroy();
      reject(err);
    });
  });
}

async function checkHost(host: Host, timeoutMs: number, now: number, warnDays: number): Promise<CheckOutcome> {
  let seen: Seen;
  try {
    seen = await handshake(host, timeoutMs);
  } catch (err) {
    const e = explain(err, `${host.hostname}:${host.port}`);
    return { status: 'fail', seen: e.seen, advice: e.advice };
  }
  const notAfter = Date.parse(seen.certificate.valid_to);
  const days = Math.floor((notAfter - now) / DAY_MS);
  if (seen.chainError !== undefined) {
    const e = explain(Object.assign(new Error(seen.chainError), { code: seen.chainError }), host.hostname);
    return { status: 'fail', seen: `${e.seen} (valid until ${seen.certificate.valid_to})`, advice: e.advice };
  }
  const nameError = tls.checkServerIdentity(host.hostname, seen.certificate);
  if (nameError) {
    const e = explain(nameError, host.hostname);
    return { status: 'fail', seen: `${e.seen} (it names ${seen.certificate.subjectaltname ?? 'nothing'})`, advice: e.advice };
  }
  if (days < warnDays) {
    return {
      status: 'warn',
      seen: `${host.hostname}: the certificate expires in ${days} days (${seen.certificate.valid_to})`,
      advice: 'Caddy renews 30 days ahead: look at `journalctl -u caddy` for ACME errors',
    };
  }
  return { status: 'ok', seen: `${host.hostname}: chain ok, valid ${days} more days` };
}

export const tlsCheck: Check = {
  name: 'tls',
  title: 'TLS certificate: chain, names, expiry',
  requires: ['dns'],
  async run(target) {
    if (new URL(target.publicUrl).protocol !== 'https:') {
      return { status: 'warn', seen: `PUBLIC_URL ${target.publicUrl} is http: development, no TLS`, advice: 'production needs an https PUBLIC_URL behind Caddy' };
    }
    const results = await Promise.all(hostsOf(target).map((host) => checkHost(host, target.timeoutMs, target.now(), target.tlsWarnDays)));
    const worst = results.find((r) => r.status === 'fail') ?? results.find((r) => r.status === 'warn');
    if (worst) return worst;
    return { status: 'ok', seen: results.map((r) => r.seen).join('; ') };
  },
};
