// RFC 6890 (special-purpose address registries), RFC 9700 §4.15 (SSRF) — a fetched URL may only
// reach globally routable unicast addresses: never loopback, private (RFC 1918), unique-local,
// link-local, carrier-grade NAT, unspecified, multicast, broadcast, documentation or reserved space.
import ipaddr from 'ipaddr.js';

/** 2000::/3, the only IPv6 space allocated for global unicast. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

export function isPublicUnicastAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(bare)) return false;
  const ip = ipaddr.parse(bare);
  if (ip.kind() === 'ipv4') return ip.range() === 'unicast';
  const v6 = ip as ipaddr.IPv6;
  // ::ffff:a.b.c.d reaches the IPv4 address a.b.c.d: judge that one.
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().range() === 'unicast';
  // Deny by default: 'unicast' is what ipaddr.js has no special name for (NAT64, 6to4 and Teredo,
  // which embed IPv4 addresses, are named and so refused), and it must also lie in 2000::/3.
  return v6.range() === 'unicast' && v6.match(GLOBAL_UNICAST_V6);
}
