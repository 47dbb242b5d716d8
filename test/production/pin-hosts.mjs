// A `node --import` preload that pins made-up host names to loopback inside one process, the way
// /etc/hosts would, without touching the machine: every name ending in $PINNED_HOST_SUFFIX (for
// example `.probe.internal`) resolves to 127.0.0.1 (or $PINNED_HOST_ADDRESS) through dns.lookup and dns.promises.lookup,
// which is what net/tls/https/undici call. Other names resolve as usual. Used for the product and
// the PDS children of the production suite (test/production/); an operator can use it the same way
// to smoke-test a staging copy under its real names (docs/testing.md).
import dns from 'node:dns'
import net from 'node:net'

const suffix = (process.env.PINNED_HOST_SUFFIX ?? '').toLowerCase()
if (!suffix.startsWith('.')) {
  throw new Error(`pin-hosts.mjs: PINNED_HOST_SUFFIX must be a domain suffix starting with ".", got "${suffix}"`)
}
const pinned = (hostname) => typeof hostname === 'string' && hostname.toLowerCase().replace(/\.$/, '').endsWith(suffix)
const address = process.env.PINNED_HOST_ADDRESS || '127.0.0.1'
if (net.isIP(address) === 0) throw new Error(`pin-hosts.mjs: PINNED_HOST_ADDRESS must be an IP address, got "${address}"`)
const LOOPBACK = { address, family: net.isIP(address) }

const originalLookup = dns.lookup
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options
    options = {}
  }
  if (!pinned(hostname)) return originalLookup.call(dns, hostname, options, callback)
  const all = typeof options === 'object' && options !== null && options.all === true
  process.nextTick(() => (all ? callback(null, [LOOPBACK]) : callback(null, LOOPBACK.address, LOOPBACK.family)))
  return undefined
}

const originalPromiseLookup = dns.promises.lookup
dns.promises.lookup = async function lookup(hostname, options) {
  if (!pinned(hostname)) return originalPromiseLookup.call(dns.promises, hostname, options)
  const all = typeof options === 'object' && options !== null && options.all === true
  return all ? [LOOPBACK] : LOOPBACK
}
