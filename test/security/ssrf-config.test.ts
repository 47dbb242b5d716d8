// The configuration side of the SSRF defence (issue 9 findings 1 and 11): OUTBOUND_PRIVATE_HOSTS is
// the one, empty-by-default exemption and accepts exact host names only; production never fetches
// over http; a development instance (which may fetch from private addresses) listens on loopback.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/env.ts';
import { atprotoOutboundPolicy } from '../../src/atproto/client.ts';

const PRODUCTION = { PUBLIC_URL: 'https://auth.example.org', PLATFORM_KEYS_FILE: 'p.json', ATPROTO_CLIENT_KEYS_FILE: 'a.json' };

describe('OUTBOUND_PRIVATE_HOSTS', () => {
  it('is empty by default: nothing is exempt', () => {
    expect(parseConfig(PRODUCTION).outboundPrivateHosts).toEqual([]);
    expect(atprotoOutboundPolicy(parseConfig(PRODUCTION))).toEqual({ allowPrivateAddresses: false, allowHttp: false, privateHosts: [] });
  });

  it('takes comma-separated exact names, optionally with a port, lower-cased and without duplicates', () => {
    const config = parseConfig({ ...PRODUCTION, OUTBOUND_PRIVATE_HOSTS: ' PDS.Probe.Internal, plc.probe.internal:2582,pds.probe.internal ,' });
    expect(config.outboundPrivateHosts).toEqual(['pds.probe.internal', 'plc.probe.internal:2582']);
    expect(atprotoOutboundPolicy(config).privateHosts).toEqual(['pds.probe.internal', 'plc.probe.internal:2582']);
  });

  it.each([
    ['a wildcard', '*.internal'],
    ['a leading-dot suffix', '.internal'],
    ['an IPv4 address', '10.0.0.5'],
    ['an IPv4 range', '10.0.0.0/8'],
    ['an IPv6 address', '[::1]'],
    ['a bare IPv6 address', 'fd00::1'],
    ['a URL', 'https://pds.internal'],
    ['port 0', 'pds.internal:0'],
    ['a port out of range', 'pds.internal:65536'],
    ['an empty label', 'pds..internal'],
    ['a label ending in a hyphen', 'pds-.internal'],
    ['an underscore', 'my_pds.internal'],
  ])('refuses %s (%s), naming the entry', (_what, value) => {
    expect(() => parseConfig({ ...PRODUCTION, OUTBOUND_PRIVATE_HOSTS: value })).toThrow(ConfigError);
    expect(() => parseConfig({ ...PRODUCTION, OUTBOUND_PRIVATE_HOSTS: value })).toThrow(/OUTBOUND_PRIVATE_HOSTS/);
  });
});

describe('production fetches over https only', () => {
  it.each(['ATPROTO_PLC_URL', 'ATPROTO_HANDLE_RESOLVER'])('an http %s is refused at start-up', (name) => {
    expect(() => parseConfig({ ...PRODUCTION, [name]: 'http://10.0.0.5:2582' })).toThrow(new RegExp(`${name}: must be https`));
  });

  it('development keeps http (the local PDS), and may reach private addresses', () => {
    const config = parseConfig({ ATPROTO_PLC_URL: 'http://localhost:2582' });
    expect(config.atprotoPlcUrl).toBe('http://localhost:2582');
    expect(atprotoOutboundPolicy(config)).toMatchObject({ allowPrivateAddresses: true, allowHttp: true });
  });
});

describe('HOST (finding 11: a development instance must not be a LAN relay)', () => {
  it('defaults to 127.0.0.1 in development', () => {
    expect(parseConfig({}).host).toBe('127.0.0.1');
  });

  it('defaults to all interfaces in production (the shipped env file sets 127.0.0.1 behind Caddy)', () => {
    expect(parseConfig(PRODUCTION).host).toBeUndefined();
  });

  it('is honoured when set', () => {
    expect(parseConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
  });
});
