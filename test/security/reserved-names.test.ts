// Issue 9, finding 10: RESERVED_USERNAMES extends the built-in list instead of replacing it, and the
// built-in list holds the names other software looks up on subdomains. A wiki named `autodiscover` or
// `mta-sts` would answer, with its owner's content, for mail clients and mail servers of the domain.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RESERVED_USERNAMES, parseConfig } from '../../src/config/env.ts';
import { USERNAME_MIN, usernameProblem } from '../../src/accounts/username.ts';

describe('reserved names (issue 9, finding 10): the operator extends the built-in list, never replaces it', () => {
  // Other software looks these up on subdomains (mail autoconfiguration, MTA-STS, proxy
  // auto-discovery, name servers, the usual service hosts): a wiki there would answer for them.
  const LOOKED_UP_ON_SUBDOMAINS = [
    'autoconfig', 'autodiscover', 'mta-sts', 'wpad', 'www', 'mail', 'smtp', 'imap', 'pop', 'ftp',
    'ns1', 'ns2', 'ns3', 'ns4', 'static', 'cdn', 'api', 'auth', 'admin', 'status',
  ];

  it('refuses each name other software looks up on subdomains, with no configuration', () => {
    const config = parseConfig({});
    for (const name of LOOKED_UP_ON_SUBDOMAINS) {
      expect(usernameProblem(name, config.reservedUsernames), name).toMatch(/is reserved/);
    }
  });

  it('keeps refusing them when the operator sets RESERVED_USERNAMES, and refuses the operator’s names too', () => {
    const config = parseConfig({ RESERVED_USERNAMES: 'Billing2, ops-team' });
    for (const name of [...LOOKED_UP_ON_SUBDOMAINS, ...DEFAULT_RESERVED_USERNAMES.filter((n) => n.length >= USERNAME_MIN)]) {
      expect(usernameProblem(name, config.reservedUsernames), name).toMatch(/is reserved/);
    }
    expect(usernameProblem('billing2', config.reservedUsernames)).toMatch(/"billing2" is reserved/);
    expect(usernameProblem('ops-team', config.reservedUsernames)).toMatch(/is reserved/);
    expect(usernameProblem('alice', config.reservedUsernames)).toBeUndefined();
  });
});
