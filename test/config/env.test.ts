// Configuration is parsed once from the environment; a bad value stops start-up with a message that
// names the variable.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_RESERVED_USERNAMES, isLoopbackHostname, parseConfig } from '../../src/config/env.ts';

const productionKeys = { PLATFORM_KEYS_FILE: '/keys/platform.json', ATPROTO_CLIENT_KEYS_FILE: '/keys/atproto.json' };

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`);
}

describe('defaults: an empty environment is a working local development setup', () => {
  const config = parseConfig({});

  it('listens on port 3000 and is its own issuer on http://localhost:3000', () => {
    expect(config.port).toBe(3000);
    // Loopback only: development fetches from private addresses, so it must not be a LAN relay.
    expect(config.host).toBe('127.0.0.1');
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.scheme).toBe('http:');
    expect(config.apexHost).toBe('localhost:3000');
    expect(config.production).toBe(false);
  });

  it('keeps the database and generated keys under ./data', () => {
    const dataDir = path.resolve('./data');
    expect(config.dataDir).toBe(dataDir);
    expect(config.databaseFile).toBe(path.join(dataDir, 'robot-auth.sqlite'));
    expect(config.platformKeysFile).toBe(path.join(dataDir, 'keys', 'platform-keys.json'));
    expect(config.atprotoClientKeysFile).toBe(path.join(dataDir, 'keys', 'atproto-client-keys.json'));
  });

  it('uses the built-in reserved usernames, the loopback proxy trust and sensible lifetimes', () => {
    expect([...config.reservedUsernames].sort()).toEqual([...DEFAULT_RESERVED_USERNAMES].sort());
    expect(config.trustProxy).toBe('loopback');
    expect(config.cookieDomain).toBeUndefined();
    expect(config.sessionTtlSeconds).toBe(24 * 60 * 60);
    expect(config.accessTokenTtlSeconds).toBe(3600);
    expect(config.rateLimits.loginPerMinute).toBeGreaterThan(0);
    expect(config.logLevel).toBe('info');
  });

  it('treats blank values as unset', () => {
    expect(parseConfig({ PORT: '', PUBLIC_URL: '  ', COOKIE_DOMAIN: '' })).toMatchObject({
      port: 3000,
      publicUrl: 'http://localhost:3000',
      cookieDomain: undefined,
    });
  });

  it('derives PUBLIC_URL from PORT when only PORT is set', () => {
    expect(parseConfig({ PORT: '4123' })).toMatchObject({ port: 4123, publicUrl: 'http://localhost:4123', apexHost: 'localhost:4123' });
  });

  it('reads a custom reserved-username list, lowercased and trimmed, added to the built-in one', () => {
    const reserved = parseConfig({ RESERVED_USERNAMES: ' Admin, ops ,,Zebra' }).reservedUsernames;
    expect([...reserved].sort()).toEqual([...new Set([...DEFAULT_RESERVED_USERNAMES, 'admin', 'ops', 'zebra'])].sort());
  });
});

describe('PORT must be a port number', () => {
  for (const bad of ['abc', '0', '-1', '3000.5', '65536', '1e9']) {
    it(`refuses PORT=${bad} and names PORT`, () => {
      expect(configError({ PORT: bad }).message).toMatch(/^\s+PORT: /m);
    });
  }

  it('accepts the highest port', () => {
    expect(parseConfig({ PORT: '65535' }).port).toBe(65535);
  });
});

describe('PUBLIC_URL must be a bare origin (it is the OAuth issuer, compared byte for byte)', () => {
  const bad = [
    'https://wiki.example/',
    'https://wiki.example/auth',
    'https://wiki.example?x=1',
    'https://wiki.example#top',
    'https://user@wiki.example',
    'ftp://wiki.example',
    'wiki.example',
    'not a url',
  ];
  for (const value of bad) {
    it(`refuses ${JSON.stringify(value)} and names PUBLIC_URL and the value`, () => {
      const { message } = configError({ PUBLIC_URL: value, ...productionKeys });
      expect(message).toMatch(/^\s+PUBLIC_URL: /m);
      expect(message).toContain(`"${value}"`);
    });
  }

  it('says what is wrong with a trailing slash or a path', () => {
    expect(configError({ PUBLIC_URL: 'https://wiki.example/', ...productionKeys }).message).toMatch(/no trailing slash/);
    expect(configError({ PUBLIC_URL: 'https://wiki.example/auth', ...productionKeys }).message).toMatch(/no path/);
  });

  it('accepts an https origin with or without a port', () => {
    expect(parseConfig({ PUBLIC_URL: 'https://wiki.example', ...productionKeys })).toMatchObject({
      publicUrl: 'https://wiki.example',
      scheme: 'https:',
      apexHost: 'wiki.example',
      production: true,
    });
    expect(parseConfig({ PUBLIC_URL: 'https://wiki.example:8443', ...productionKeys }).apexHost).toBe('wiki.example:8443');
  });
});

describe('https PUBLIC_URL means production: keys must be provided, never generated', () => {
  it('refuses https without either key file and names both', () => {
    const { message } = configError({ PUBLIC_URL: 'https://wiki.example' });
    expect(message).toMatch(/^\s+PLATFORM_KEYS_FILE: required/m);
    expect(message).toMatch(/^\s+ATPROTO_CLIENT_KEYS_FILE: required/m);
  });

  it('refuses https with only one key file and names the missing one', () => {
    const { message } = configError({ PUBLIC_URL: 'https://wiki.example', PLATFORM_KEYS_FILE: '/keys/platform.json' });
    expect(message).toMatch(/ATPROTO_CLIENT_KEYS_FILE/);
    expect(message).not.toMatch(/^\s+PLATFORM_KEYS_FILE/m);
  });

  it('with PLATFORM_KEYS_KEK (keys in the database) needs no PLATFORM_KEYS_FILE; a KEK that is not 32 base64url bytes is refused', () => {
    const kek = Buffer.alloc(32, 7).toString('base64url');
    const config = parseConfig({ PUBLIC_URL: 'https://wiki.example', ATPROTO_CLIENT_KEYS_FILE: '/keys/atproto.json', PLATFORM_KEYS_KEK: kek });
    expect(config.platformKeysKek).toBe(kek);
    expect(config.platformKeysPollSeconds).toBe(5);
    for (const bad of [Buffer.alloc(16).toString('base64url'), Buffer.alloc(32).toString('base64'), 'x'.repeat(44)]) {
      const { message } = configError({ PLATFORM_KEYS_KEK: bad });
      expect(message).toMatch(/PLATFORM_KEYS_KEK: must be 32 random bytes in base64url/);
      expect(message).not.toContain(bad);
    }
    expect(parseConfig({}).platformKeysKek).toBeUndefined();
  });

  it('uses the given key files, resolved to absolute paths', () => {
    const config = parseConfig({ PUBLIC_URL: 'https://wiki.example', PLATFORM_KEYS_FILE: 'keys/p.json', ATPROTO_CLIENT_KEYS_FILE: 'keys/a.json' });
    expect(config.platformKeysFile).toBe(path.resolve('keys/p.json'));
    expect(config.atprotoClientKeysFile).toBe(path.resolve('keys/a.json'));
  });
});

describe('http PUBLIC_URL is for loopback development only', () => {
  for (const value of ['http://wiki.example', 'http://192.168.1.10:3000', 'http://localhost.evil.example:3000', 'http://10.0.0.1']) {
    it(`refuses ${value}`, () => {
      const { message } = configError({ PUBLIC_URL: value });
      expect(message).toMatch(/^\s+PUBLIC_URL: an http URL is only allowed for local development/m);
      expect(message).toContain(value);
    });
  }

  for (const value of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000', 'http://robot.localhost:3000']) {
    it(`accepts ${value} as development`, () => {
      expect(parseConfig({ PUBLIC_URL: value }).production).toBe(false);
    });
  }

  it('recognises loopback host names', () => {
    for (const host of ['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) {
      expect(isLoopbackHostname(host), host).toBe(true);
    }
    for (const host of ['localhost.example', 'example.com', '128.0.0.1', '10.0.0.1', '::2', 'mylocalhost']) {
      expect(isLoopbackHostname(host), host).toBe(false);
    }
  });
});

describe('COOKIE_DOMAIN must cover the PUBLIC_URL host', () => {
  const prod = { PUBLIC_URL: 'https://wiki.example', ...productionKeys };

  it('accepts the apex itself, with or without a leading dot', () => {
    expect(parseConfig({ ...prod, COOKIE_DOMAIN: 'wiki.example' }).cookieDomain).toBe('wiki.example');
    expect(parseConfig({ ...prod, COOKIE_DOMAIN: '.wiki.example' }).cookieDomain).toBe('.wiki.example');
  });

  it('accepts a parent domain of the apex', () => {
    expect(parseConfig({ PUBLIC_URL: 'https://auth.wiki.example', ...productionKeys, COOKIE_DOMAIN: 'wiki.example' }).cookieDomain).toBe(
      'wiki.example',
    );
  });

  for (const domain of ['evil.example', 'ki.example', 'other.wiki.example', 'example.wiki']) {
    it(`refuses ${domain} and names COOKIE_DOMAIN`, () => {
      const { message } = configError({ ...prod, COOKIE_DOMAIN: domain });
      expect(message).toMatch(/^\s+COOKIE_DOMAIN: /m);
      expect(message).toContain(`"${domain}" does not cover the PUBLIC_URL host "wiki.example"`);
    });
  }
});

describe('other values are validated too', () => {
  it('refuses an unknown LOG_LEVEL', () => {
    expect(configError({ LOG_LEVEL: 'verbose' }).message).toMatch(/^\s+LOG_LEVEL: /m);
  });

  it('refuses a non-http resolver URL', () => {
    expect(configError({ ATPROTO_HANDLE_RESOLVER: 'ftp://resolver.example' }).message).toMatch(/^\s+ATPROTO_HANDLE_RESOLVER: must be an http\(s\) URL/m);
  });

  it('refuses a zero lifetime', () => {
    expect(configError({ SESSION_TTL_SECONDS: '0' }).message).toMatch(/^\s+SESSION_TTL_SECONDS: /m);
  });

  it('reports every bad variable at once', () => {
    const { message } = configError({ PORT: 'x', LOG_LEVEL: 'loud', SESSION_TTL_SECONDS: '-5' });
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/LOG_LEVEL/);
    expect(message).toMatch(/SESSION_TTL_SECONDS/);
  });
});
