// fast-check arbitraries for hostile input: nasty strings, form bodies and query strings with
// repeated and missing parameters, header values (only what an HTTP client can put on the wire),
// Host headers and content types. Every property runs with FUZZ (a fixed seed, a bounded number
// of runs) so the suite is deterministic and quick.
import fc from 'fast-check';
import { normaliseLoginInput } from '../../src/atproto/sign-in.ts';
import { APEX_HOST } from './support.ts';

/**
 * Per-test timeout for files that run properties or long loops: a few hundred requests each, which
 * on a busy 2-core machine (the whole suite in parallel) can outlast vitest's default. Doubled on
 * PostgreSQL (the `postgres` vitest project): each request makes its statements over a connection
 * instead of in-process, and bounded-growth's 6,000 requests take about twice as long.
 */
export const LONG_TEST_TIMEOUT_MS = 120_000 * Math.max(1, Number(process.env.FUZZ_RUNS_SCALE ?? '1')) * (process.env.TEST_STORE === 'postgres' ? 2 : 1);

/** Fixed seed, bounded runs: FUZZ_RUNS_SCALE=10 explores ten times more locally, FUZZ_SEED varies it. */
export function fuzzOptions<T>(runs: number): fc.Parameters<T> {
  const scale = Number(process.env.FUZZ_RUNS_SCALE ?? '1');
  return { seed: Number(process.env.FUZZ_SEED ?? '20260922'), numRuns: Math.max(1, Math.round(runs * scale)), endOnFailure: true };
}

/** Strings that have broken parsers, headers and templates before. */
export const NASTY_CONSTANTS = [
  '',
  ' ',
  '\t',
  '\r\nX-Injected: 1',
  '%0d%0aX-Injected:%201',
  '\r\nSet-Cookie: injected=1',
  '%0D%0ASet-Cookie:%20injected=1',
  '\n',
  '\u0000',
  '%00',
  '\u202e\u2066',
  '\ufeff',
  '\ud800',
  '💥🙂',
  'İı',
  '"',
  "'",
  '\\',
  '\\"',
  '<script>alert(1)</script>',
  '${7*7}<%= 7*7 %>',
  '../../../../etc/passwd',
  '%2e%2e%2f',
  '//evil.example',
  '/\\evil.example',
  'http://evil.example/',
  'https://evil.example/mcp',
  'javascript:alert(1)',
  'data:text/html,x',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  '[]',
  '{}',
  '{"a":',
  'wiki:read',
  'wiki:write',
  'wiki:read wiki:write offline_access',
  'openid',
  'S256',
  'plain',
  'code',
  'token',
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'http://alice.localhost:3000/mcp',
  'http://alice.localhost:3000/mcp/',
  'http://nobody.localhost:3000/mcp',
  'http://127.0.0.1:9/callback',
  'A'.repeat(43),
  'a'.repeat(2049),
  'x'.repeat(5000),
];

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_CONSTANTS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 60 }) },
);

/**
 * An https client_id is a client ID metadata document URL, which the server would fetch: keep the
 * fuzzer off the network by never sending one.
 */
export function offlineClientId(value: string): string {
  return /^https:/i.test(value) ? `x${value}` : value;
}

/** A list of [name, value] pairs: names mostly from `names` (so some are repeated), values nasty. */
export function paramPairs(names: readonly string[], values: fc.Arbitrary<string> = nastyString): fc.Arbitrary<[string, string][]> {
  const name = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: nastyString });
  return fc
    .array(fc.tuple(name, values), { maxLength: 10 })
    .map((pairs) => pairs.map(([k, v]): [string, string] => [k, k === 'client_id' ? offlineClientId(v) : v]));
}

export function encodePairs(pairs: readonly [string, string][]): string {
  const params = new URLSearchParams();
  for (const [k, v] of pairs) params.append(k, v);
  return params.toString();
}

/**
 * Mostly the valid value, sometimes a plausible wrong one, now and then junk or nothing at all:
 * requests that get deep into an endpoint before something is off.
 */
export function mostly<T extends string>(valid: T, alternatives: readonly string[] = []): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(valid) },
    { weight: alternatives.length > 0 ? 2 : 0, arbitrary: alternatives.length > 0 ? fc.constantFrom(...alternatives) : fc.constant(valid) },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** Characters an HTTP/1.1 client can send in a header value (Node refuses the rest). */
const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 1, arbitrary: fc.constant(0x09) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
);
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.array(headerChar, { maxLength: 60 }).map((codes) => String.fromCharCode(...codes)),
  nastyString.map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '')),
);

/** Authorization header values: none, garbage, wrong schemes, malformed Bearer and Basic. */
export const authorizationHeader: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  headerValue,
  headerValue.map((v) => `Bearer ${v}`),
  headerValue.map((v) => `bearer  ${v}`),
  fc.constantFrom('Bearer', 'Bearer ', 'Basic', 'Basic =', 'Basic ###', 'DPoP abc', 'Bearer a b', 'Bearer eyJhbGciOiJub25lIn0.e30.'),
  fc.tuple(nastyString, nastyString).map(([id, secret]) => `Basic ${Buffer.from(`${offlineClientId(id)}:${secret}`).toString('base64')}`),
  nastyString.map((s) => `Basic ${Buffer.from(offlineClientId(s)).toString('base64')}`),
);

/** Host headers: the apex, wiki hosts (real and not), look-alikes and junk. */
export const hostHeader: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    APEX_HOST,
    'LOCALHOST:3000',
    'localhost:3000.',
    'alice.localhost:3000',
    'ALICE.LOCALHOST:3000',
    'alice.localhost:3000.',
    'nobody.localhost:3000',
    'a.b.localhost:3000',
    '-x-.localhost:3000',
    'alice.localhost:3000.evil.example',
    'alice.localhost:3000@evil.example',
    'evil.example#.localhost:3000',
    'evil.example',
    '127.0.0.1',
    '[::1]:3000',
    'localhost',
    'localhost:80',
    'xn--80ak6aa92e.localhost:3000',
  ),
  fc.domain().map((d) => `${d}:3000`),
  fc.stringMatching(/^[a-z0-9-]{1,70}$/).map((slug) => `${slug}.${APEX_HOST}`),
  headerValue.filter((v) => v.trim() !== ''),
);

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'application/x-www-form-urlencoded; charset=utf-16',
    'application/x-www-form-urlencoded; charset=latin1',
    'APPLICATION/X-WWW-FORM-URLENCODED',
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=koi8-r',
    'application/jwt',
    'multipart/form-data; boundary=x',
    'text/plain',
    'text/html',
    'application/xml',
    '*/*',
    '',
    ';;;',
  ),
  headerValue,
);

/** Bodies that are not what the endpoint expects, as raw text. */
export const rawBody: fc.Arbitrary<string> = fc.oneof(
  nastyString,
  fc.json({ maxDepth: 3 }),
  fc.constantFrom('{', '{"a":1,}', '[1,2', '\u0000\u0001', 'a=1&a=2&a=3', '%', '%zz=%', '&&&=', '=', '{"__proto__":{"admin":true}}'),
);

/**
 * Sign-in inputs that can never reach beyond the machine: whatever normaliseLoginInput accepts is
 * either a `.test` handle (resolved by the local PDS), a did:plc (the local PLC), or a loopback URL.
 */
export function isLocalLoginInput(raw: string): boolean {
  const id = normaliseLoginInput(raw);
  if (id === undefined) return true;
  if (id.startsWith('did:')) return id.startsWith('did:plc:');
  if (/^https?:\/\//.test(id)) {
    const host = new URL(id).hostname;
    return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
  }
  return id.endsWith('.test');
}

export const loginInput: fc.Arbitrary<string> = fc.oneof(
  nastyString,
  fc.stringMatching(/^[a-z][a-z0-9]{2,12}$/).map((label) => `${label}.test`),
  fc.stringMatching(/^[a-z2-7]{24}$/).map((id) => `did:plc:${id}`),
  fc.constantFrom('@nobody.test', ' NoBody.TEST ', 'http://127.0.0.1:9', 'http://localhost:1/', 'did:web:localhost%3A1', 'did:plc:', 'did:x:y'),
).filter(isLocalLoginInput);
