// DNS: the apex and a wiki host resolve (the wiki host through the wildcard record *.{apex}), with
// the resolver this machine uses (getaddrinfo, as every client library does).
import dns from 'node:dns';
import { explain } from '../explain.ts';
import type { Check } from '../types.ts';
import { hostsOf } from './hosts.ts';

export const dnsCheck: Check = {
  name: 'dns',
  title: 'DNS of the apex and a wiki host',
  async run(target) {
    const seen: string[] = [];
    for (const host of hostsOf(target)) {
      try {
        const addresses = await dns.promises.lookup(host.hostname, { all: true });
        seen.push(`${host.hostname} → ${addresses.map((a) => a.address).join(', ')}`);
      } catch (err) {
        const { seen: what, advice } = explain(err, host.hostname);
        return { status: 'fail', seen: what, advice };
      }
    }
    const warn = target.wikiSlug === undefined;
    return warn
      ? { status: 'warn', seen: `${seen.join('; ')}; no wiki to check`, advice: 'create a wiki or pass --wiki SLUG to check a wiki host too' }
      : { status: 'ok', seen: seen.join('; ') };
  },
};
