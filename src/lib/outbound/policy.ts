// RFC 9700 §4.15 (SSRF), OWASP SSRF Prevention Cheat Sheet — which targets an outbound request
// may reach when a stranger chose its URL. Production: https only; port 443 only; every address the
// name resolves to is public unicast, checked in the socket's own lookup (so the address checked is
// the address connected to), IP literals checked before connecting. The only exemption is a host
// the operator names in OUTBOUND_PRIVATE_HOSTS (exact name, optionally with its port), which may
// resolve to any address and use any port, still over https. Development (allowPrivateAddresses):
// anything, because the local PDS is on loopback and a development app listens on loopback only.
import dns from 'node:dns';
import net from 'node:net';
import { isPublicUnicastAddress } from './public-address.ts';

export class SafeFetchError extends Error {
  override name = 'SafeFetchError';
}

/** The policy refused the target before any connection was made. */
export class OutboundRefused extends SafeFetchError {
  override name = 'OutboundRefused';
}

export interface OutboundPolicy {
  /** Development and tests only: any address and any port. */
  allowPrivateAddresses: boolean;
  /** Development only: http: URLs too (the local PDS). Production never. */
  allowHttp?: boolean | undefined;
  /** OUTBOUND_PRIVATE_HOSTS: `host` or `host:port`, lower case; exact names that may be private. */
  privateHosts?: readonly string[] | undefined;
  /** Extra PEM certificates to trust besides the default ones (tests use a self-signed one). */
  caCertificates?: string | undefined;
  /** The name resolver under the address check; default dns.lookup (tests pin names here). */
  lookup?: net.LookupFunction | undefined;
}

const systemLookup: net.LookupFunction = (hostname, options, callback) => dns.lookup(hostname, options, callback);

/**
 * Throws OutboundRefused when the policy forbids `url`; otherwise returns the lookup the socket
 * must use (one that refuses non-public addresses unless the host is exempt).
 */
export function lookupFor(url: URL, policy: OutboundPolicy): net.LookupFunction {
  const resolve = policy.lookup ?? systemLookup;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp === true)) {
    throw new OutboundRefused(`${url.protocol} URLs are not fetched; only https`);
  }
  if (url.username !== '' || url.password !== '') throw new OutboundRefused('URLs with a user name or password are not fetched');
  if (policy.allowPrivateAddresses) return resolve;

  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  const exempt = policy.privateHosts ?? [];
  if (net.isIP(host) === 0 && (exempt.includes(host) || exempt.includes(`${host}:${port}`))) return resolve;
  if (net.isIP(host) === 0) return publicOnly(resolve, port);
  // The socket does no lookup for an IP literal, so the lookup check would not run: check here.
  if (!isPublicUnicastAddress(host)) throw new OutboundRefused(`${host} is not a public address`);
  const wrongPort = portProblem(port);
  if (wrongPort) throw new OutboundRefused(wrongPort);
  return resolve;
}

function portProblem(port: string): string | undefined {
  return port === '443' ? undefined : `port ${port} is not fetched; only 443 (unless the host is in OUTBOUND_PRIVATE_HOSTS)`;
}

/**
 * A socket lookup that fails when any address of the name is not public unicast, or (checked
 * second, so the address is what a refusal names) when the port is not 443.
 */
function publicOnly(resolve: net.LookupFunction, port: string): net.LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, '');
        return;
      }
      const list = Array.isArray(addresses) ? addresses : [];
      const refused = list.find((a) => !isPublicUnicastAddress(a.address));
      const first = list[0];
      if (refused || !first) {
        callback(new OutboundRefused(`${hostname} resolves to a non-public address (${refused?.address ?? 'none'})`), '');
        return;
      }
      const wrongPort = portProblem(port);
      if (wrongPort) {
        callback(new OutboundRefused(wrongPort), '');
        return;
      }
      if (options.all) callback(null, list);
      else callback(null, first.address, first.family);
    });
  };
}
