// Issue 9 finding 2 — ReDoS. Every regular expression in src/ (literals and `new RegExp(...)`,
// found by parsing the sources with the TypeScript compiler, so a new one is checked without
// anyone listing it) goes through `recheck`; anything it does not prove `safe` fails the suite.
// A pattern that never sees request input may be allow-listed below, with the reason.
// ("Parsing the sources" is a real TypeScript parse; see regexesIn.)
// Then the attack itself: the quadratic `Authorization: Basic` pattern of the old code is flagged,
// and a 16 KB crafted header is answered by /token at once (a parse, not a timing benchmark).
import fs from 'node:fs';
import path from 'node:path';
import { check } from 'recheck';
import { parseAst } from 'rolldown/parseAst';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBasicAuthorization } from '../../src/web/authorization-header.ts';
import { MAX_AUTHORIZATION_HEADER_LENGTH } from '../../src/web/header-limits.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import type { TestApp } from '../support/app.ts';
import { httpRequest } from '../support/pds.ts';
import { startConformanceApp } from '../conformance/support.ts';

interface FoundRegex {
  where: string;
  source: string;
  flags: string;
}

/** Patterns that are not linear but only ever see trusted, bounded input. `where` is file:source. */
const ALLOW_LIST: Record<string, string> = {};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

interface AstNode {
  type?: string;
  start?: number;
  regex?: { pattern: string; flags: string };
  callee?: AstNode;
  name?: string;
  arguments?: AstNode[];
  value?: unknown;
}

/**
 * Every regex literal, and every `new RegExp(...)`/`RegExp(...)` whose arguments are string
 * literals. TypeScript 7 (the installed compiler) has no stable JS parser API, so the sources are
 * parsed with the oxc parser that ships with vitest's bundler (rolldown/parseAst, TypeScript-aware,
 * ESTree output): a real parse, so a `/` that divides is never mistaken for a regex.
 */
function regexesIn(file: string): { found: FoundRegex[]; dynamic: string[] } {
  const text = fs.readFileSync(file, 'utf8');
  const ast = parseAst(text, { lang: 'ts', sourceType: 'module' }, file);
  const rel = path.relative(process.cwd(), file);
  const found: FoundRegex[] = [];
  const dynamic: string[] = [];
  const at = (node: AstNode) => `${rel}:${text.slice(0, node.start ?? 0).split('\n').length}`;
  const stringOf = (node: AstNode | undefined) => (node?.type === 'Literal' && typeof node.value === 'string' ? node.value : undefined);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const n = node as AstNode;
    if (n.type === 'Literal' && n.regex) {
      found.push({ where: at(n), source: n.regex.pattern, flags: n.regex.flags });
    } else if ((n.type === 'NewExpression' || n.type === 'CallExpression') && n.callee?.type === 'Identifier' && n.callee.name === 'RegExp') {
      const [pattern, flags] = n.arguments ?? [];
      const source = stringOf(pattern);
      if (source !== undefined && (flags === undefined || stringOf(flags) !== undefined)) {
        found.push({ where: at(n), source, flags: stringOf(flags) ?? '' });
      } else {
        dynamic.push(at(n));
      }
    }
    for (const value of Object.values(n)) if (typeof value === 'object') visit(value);
  };
  visit(ast);
  return { found, dynamic };
}

const scanned = sourceFiles(path.resolve('src')).map(regexesIn);
const allRegexes = scanned.flatMap((s) => s.found);

describe('every regular expression in src/ is linear (recheck)', () => {
  it('the scan finds the regexes (sanity: the parser is looking at the right files)', () => {
    expect(allRegexes.length).toBeGreaterThan(10);
    // The PKCE challenge pattern is a literal in src/oauth/authorize/checks/code-challenge.ts.
    expect(allRegexes.some((r) => r.source === '^[A-Za-z0-9_-]{43}$')).toBe(true);
  });

  it('no RegExp is built from a non-literal pattern (it could not be checked)', () => {
    expect(scanned.flatMap((s) => s.dynamic)).toEqual([]);
  });

  it('recheck proves each one safe, or it is allow-listed with a reason', { timeout: 120_000 }, async () => {
    const problems: string[] = [];
    for (const regex of allRegexes) {
      const key = `${regex.where.replace(/:\d+$/, '')}:${regex.source}`;
      const result = await check(regex.source, regex.flags, { timeout: 10_000 });
      if (result.status === 'safe') continue;
      if (ALLOW_LIST[key]) continue;
      const attack = result.status === 'vulnerable' ? ` attack: ${result.attack.pattern}` : '';
      problems.push(`${regex.where} /${regex.source}/${regex.flags} → ${result.status}${attack}`);
    }
    expect(problems).toEqual([]);
  });

  it('recheck does flag the pattern of finding 2 (the checker can fail)', async () => {
    const result = await check('^Basic(?:[ \\t]+(\\S*))?[ \\t]*$', 'i');
    expect(result.status).toBe('vulnerable');
  });
});

describe('the Basic header parser (RFC 7617) without competing quantifiers', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it.each([
    ['Basic ' + b64('id:secret'), { kind: 'basic', token: b64('id:secret') }],
    ['basic ' + b64('id:secret'), { kind: 'basic', token: b64('id:secret') }],
    ['BASIC \t ' + b64('id:secret') + ' \t', { kind: 'basic', token: b64('id:secret') }],
    ['Basic', { kind: 'basic', token: '' }],
    ['Basic   ', { kind: 'basic', token: '' }],
    ['Bearer abc', { kind: 'other' }],
    ['Basicx abc', { kind: 'other' }],
    ['Basic a b', { kind: 'malformed' }],
    ['', { kind: 'other' }],
  ] as const)('%j → %j', (header, expected) => {
    expect(parseBasicAuthorization(header)).toEqual(expected);
  });

  it('the 16 KB attack string of the old pattern is parsed in one pass (no backtracking)', () => {
    const attack = 'BASIC\t' + '\t'.repeat(16 * 1024) + '\n';
    // The old pattern on it, for scale: recheck's attack string, measured by the same loop.
    const old = /^Basic(?:[ \t]+(\S*))?[ \t]*$/i;
    const oldStarted = performance.now();
    old.exec(attack);
    const oldMs = performance.now() - oldStarted;
    const started = performance.now();
    for (let i = 0; i < 100; i++) parseBasicAuthorization(attack);
    // 100 parses of 16 KB; the old regex took ~240 ms for one. Generous: this is not a benchmark.
    const newMs = (performance.now() - started) / 100;
    expect(newMs).toBeLessThan(10);
    // Not a benchmark: only that one quadratic parse costs far more than one linear parse.
    expect(oldMs).toBeGreaterThan(newMs * 10);
    expect(parseBasicAuthorization(attack)).toEqual({ kind: 'malformed' });
  });
});

describe('the attack against /token', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startConformanceApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  const postToken = (authorization: string) =>
    httpRequest(`http://127.0.0.1:${app.port}${OAUTH_PATHS.token}`, {
      method: 'POST',
      headers: { host: `localhost:${app.port}`, 'content-type': 'application/x-www-form-urlencoded', authorization },
      body: 'grant_type=authorization_code&code=x&code_verifier=y',
    });

  it('a Basic header over the limit → 431 with a JSON error that says why', async () => {
    const res = await postToken('Basic\t' + '\t'.repeat(MAX_AUTHORIZATION_HEADER_LENGTH) + 'x');
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
    expect(JSON.parse(res.body).error_description).toMatch(/Authorization header/);
  });

  it('the reported attack, a ~16 KB crafted Basic header, is answered (431) and /healthz still answers beside it', async () => {
    // Just under Node's 16 KB header block, so it reaches the app (the old regex spent ~240 ms here).
    // The tail is U+00A0 (obs-text byte 0xA0, legal in a header): whitespace to \S, so the old regex backtracked.
    const attack = 'BASIC\t' + '\t'.repeat(16 * 1024 - 600) + '\u00a0';
    const [res, health] = await Promise.all([postToken(attack), httpRequest(`http://127.0.0.1:${app.port}/healthz`)]);
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
    expect(health.status).toBe(200);
  });

  it('the crafted header just under the limit is answered as bad credentials (401 invalid_client)', async () => {
    const res = await postToken('BASIC\t' + '\t'.repeat(MAX_AUTHORIZATION_HEADER_LENGTH - 10) + '\u00a0');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_client' });
  });

  it('other parsed headers are capped too: an oversized Cookie on a page → a 431 page', async () => {
    const res = await httpRequest(`http://127.0.0.1:${app.port}/`, {
      headers: { host: `localhost:${app.port}`, accept: 'text/html', cookie: `platform_token=${'a'.repeat(9000)}` },
    });
    expect(res.status).toBe(431);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('The Cookie header is longer than');
  });

  it('ordinary Basic credentials still work their way to client authentication', async () => {
    const res = await postToken(`Basic ${Buffer.from('nobody:secret').toString('base64')}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error_description).toMatch(/not registered/);
  });
});
