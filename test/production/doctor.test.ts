// `admin doctor` (issue 13 item 1) against the production-mode stack (stack.ts: the app as
// operators run it, the shipped Caddyfile with TLS from a test CA, the local PDS over TLS, the
// claude.ai stand-in): the real CLI in a child process with the DNS pinning preload and the test CA,
// as an operator runs it on the VM. First every check is ok; then one thing is broken at a time and
// exactly that check fails with its advice (checks that depend on it are skipped, not failed):
//   - wrong issuer: a second Caddy (same Caddyfile) in front of the same app on another port, and the
//     CLI's PUBLIC_URL names that port — the service runs with another PUBLIC_URL than the CLI reads;
//   - expired certificate: a third Caddy serving a certificate the test CA issued already expired;
//   - missing PRM: a wiki slug that does not exist;
//   - blocked document fetch: the document stand-in answers 403 (Anthropic's edge refusing a cloud range).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { seedUser } from '../support/seed.ts';
import { startCaddy, type RunningCaddy } from '../deploy/support.ts';
import { CLI } from '../ops/server-process.ts';
import { freePort } from '../support/app.ts';
import type { TestCa } from './ca.ts';
import { APEX_HOST, CLAUDE_HOST, startProductionStack, type ProductionStack } from './stack.ts';

interface Result {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  seen: string;
  advice?: string;
}

const WIKI = 'doctorwiki';
let stack: ProductionStack;
let dir: string;
let documents: { port: number; close(): Promise<void> };
const caddies: RunningCaddy[] = [];
let wrongIssuerPort: number;
let expiredPort: number;

beforeAll(async () => {
  stack = await startProductionStack();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-doctor-'));
  // A person and their wiki, as a sign-up leaves them (the app's own database, beside the running app).
  const db = openDatabase(stack.env.DATABASE_FILE!);
  try {
    await seedUser(createSqliteStore(db, { closeDatabase: false }), WIKI);
  } finally {
    db.close();
  }
  // A backup as the nightly timer takes it (the real CLI), so that the backup check has one.
  fs.mkdirSync(path.join(dir, 'backups'));
  const backup = spawnSync(process.execPath, [CLI, 'backup', 'create', path.join(dir, 'backups', 'robot-auth-1.sqlite')], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...stack.env },
    encoding: 'utf8',
  });
  if (backup.status !== 0) throw new Error(`backup create failed: ${backup.stderr}`);
  documents = await startDocumentStandIn(stack.ca);

  const expired = expiredCertificate(stack.ca, path.join(dir, 'expired'));
  const [a, b, c, d] = await distinctPorts(4);
  wrongIssuerPort = a!;
  expiredPort = c!;
  const caddyEnv = (port: number, redirect: number, cert: { certFile: string; keyFile: string }) => ({
    SITE_SCHEME: 'https',
    PLATFORM_DOMAIN: `${APEX_HOST}:${port}`,
    APP_ADDRESS: `127.0.0.1:${stack.env.PORT}`,
    WIKI_MCP_UPSTREAM: '',
    WIKI_WEB_UPSTREAM: '',
    CADDY_TLS_MODE: 'files',
    CADDY_TLS_CERT_FILE: cert.certFile,
    CADDY_TLS_KEY_FILE: cert.keyFile,
    CADDY_HTTP_PORT: String(redirect),
  });
  caddies.push(
    ...(await Promise.all([
      startCaddy(wrongIssuerPort, caddyEnv(wrongIssuerPort, b!, stack.ca)),
      startCaddy(expiredPort, caddyEnv(expiredPort, d!, expired)),
    ])),
  );
}, 90_000);

afterAll(async () => {
  for (const caddy of caddies) await caddy.stop();
  await documents?.close();
  await stack?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** `npm run admin -- doctor …` as the operator runs it on the VM, with the stand-ins' URLs (async: the document stand-in lives in this process). */
async function runDoctorCli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const documentsOrigin = `https://${CLAUDE_HOST}:${documents.port}`;
  const child = spawn(
    process.execPath,
    [
      ...stack.nodeArgs,
      CLI,
      'doctor',
      '--pds', stack.pds.url,
      '--claude-document', `${stack.claudeOrigin}/oauth/mcp-oauth-client-metadata`,
      '--chatgpt-document', `${documentsOrigin}/oauth/tU1UVEq8rRTK/client.json`,
      '--backup-dir', path.join(dir, 'backups'),
      '--timeout', '3000',
      ...args,
    ],
    { cwd: dir, env: { PATH: process.env.PATH ?? '', ...stack.env, ...stack.pinEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const started = Date.now();
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  if (process.env.TEST_TIMINGS === '1') process.stderr.write(`[doctor] ${args.join(' ')}: ${Date.now() - started} ms\n`);
  return { status, stdout, stderr };
}

/** The same with --json, parsed. */
async function doctor(args: string[] = [], env: Record<string, string> = {}): Promise<{ status: number | null; results: Result[] }> {
  // The test CA's certificates live 2 days (ca.ts): below the default 14-day warning.
  const { status, stdout, stderr } = await runDoctorCli(['--json', '--tls-warn-days', '1', ...args], env);
  try {
    return { status, results: (JSON.parse(stdout) as { checks: Result[] }).checks };
  } catch {
    throw new Error(`doctor printed no JSON (exit ${status}):\n${stdout}\n${stderr}`);
  }
}

function byName(results: Result[]): Record<string, Result> {
  return Object.fromEntries(results.map((r) => [r.name, r]));
}

/** Every check but `failing` and `skipped` is ok; `failing` fails; `skipped` are skipped. */
function expectOnly(results: Result[], failing: string, skipped: string[] = []): Result {
  const summary = results.map((r) => `${r.status} ${r.name}: ${r.seen}${r.advice ? ` → ${r.advice}` : ''}`).join('\n');
  const expected = Object.fromEntries(results.map((r) => [r.name, r.name === failing ? 'fail' : skipped.includes(r.name) ? 'skip' : 'ok']));
  expect(Object.fromEntries(results.map((r) => [r.name, r.status])), summary).toEqual(expected);
  return byName(results)[failing]!;
}

describe('admin doctor against the production-mode stack', () => {
  it('every check is ok on a sound deployment, and the exit status is 0', async () => {
    const { status, results } = await doctor();
    expectOnly(results, '');
    expect(status).toBe(0);
    expect(results.map((r) => r.name)).toEqual([
      'dns', 'tls', 'issuer', 'jwks', 'prm', 'mcp-401', 'forged-headers', 'tls-ask', 'clock',
      'atproto-client', 'document-claude-ai', 'document-chatgpt', 'database', 'backups', 'key-age',
    ]);
    const r = byName(results);
    expect(r['prm']!.seen).toContain(`https://${WIKI}.${APEX_HOST}:`);
    expect(r['forged-headers']!.seen).toContain('401');
    // The documents were fetched for real, from the stand-ins.
    expect(stack.claudeRequests).toContain('/oauth/mcp-oauth-client-metadata');
  });

  it('in text: one line per check, advice under a fail, a certificate expiring within 14 days is a warning', async () => {
    const child = await runDoctorCli(['--wiki', 'nosuchwikihere']);
    expect(child.status).toBe(1);
    expect(child.stdout).toMatch(/^fail {2}prm +https:\/\/nosuchwikihere\..*answered 404/m);
    expect(child.stdout).toMatch(/^ +→ check the slug \(`wikis list`\)/m);
    expect(child.stdout).toMatch(/^skip {2}mcp-401 +not run: prm did not pass/m);
    // No --tls-warn-days here: the 2-day test certificate is within the default 14 days.
    expect(child.stdout).toMatch(/^warn {2}tls +auth\.probe\.internal: the certificate expires in 1 days/m);
    expect(child.stdout).toMatch(/^ +→ Caddy renews 30 days ahead/m);
  });

  it('wrong issuer: the CLI reads a PUBLIC_URL the running service does not have → issuer fails with the restart advice', async () => {
    const publicUrl = `https://${APEX_HOST}:${wrongIssuerPort}`;
    const { status, results } = await doctor([], { PUBLIC_URL: publicUrl });
    const issuer = expectOnly(results, 'issuer', ['prm', 'mcp-401', 'forged-headers', 'atproto-client']);
    expect(issuer.seen).toBe(`issuer is "${stack.publicUrl}", PUBLIC_URL is "${publicUrl}"`);
    expect(issuer.advice).toMatch(/restart the service/);
    expect(status).toBe(1);
  });

  it('expired certificate → tls fails in plain words with the renewal advice', async () => {
    const { status, results } = await doctor([], { PUBLIC_URL: `https://${APEX_HOST}:${expiredPort}` });
    const tls = expectOnly(results, 'tls', ['issuer', 'jwks', 'prm', 'mcp-401', 'forged-headers', 'atproto-client']);
    expect(tls.seen).toMatch(/the TLS certificate of .* has expired/);
    expect(tls.advice).toMatch(/renew/);
    expect(status).toBe(1);
  });

  it('missing PRM: a wiki that does not exist → prm fails, the /mcp checks that need it are skipped', async () => {
    const { status, results } = await doctor(['--wiki', 'nosuchwikihere']);
    const prm = expectOnly(results, 'prm', ['mcp-401', 'forged-headers']);
    expect(prm.seen).toMatch(/answered 404: there is no wiki "nosuchwikihere"/);
    expect(prm.advice).toMatch(/wikis list/);
    expect(status).toBe(1);
  });

  it('blocked document fetch: 403 from the document host → that document fails with CLIENT_ID_METADATA_DOCUMENTS=off', async () => {
    const { status, results } = await doctor(['--claude-document', `https://${CLAUDE_HOST}:${documents.port}/oauth/mcp-oauth-client-metadata`]);
    const document = expectOnly(results, 'document-claude-ai');
    expect(document.seen).toMatch(/answered HTTP 403/);
    expect(document.advice).toMatch(/CLIENT_ID_METADATA_DOCUMENTS=off/);
    expect(status).toBe(1);
  });
});

/**
 * https://claude.probe.internal:PORT (the CA's certificate names it; the app's OUTBOUND_PRIVATE_HOSTS
 * lets it through on any port): ChatGPT's published document with its origin replaced (like
 * stack.ts clientFixture), and 403 for Claude.ai's path, as Anthropic's edge answers some clouds.
 */
async function startDocumentStandIn(ca: TestCa): Promise<{ port: number; close(): Promise<void> }> {
  let origin = '';
  const fixture = fs.readFileSync(path.resolve(import.meta.dirname, '../fixtures/clients/chatgpt.cimd.json'), 'utf8');
  const server = https.createServer({ cert: fs.readFileSync(ca.certFile), key: fs.readFileSync(ca.keyFile) }, (req, res) => {
    if (req.url === '/oauth/tU1UVEq8rRTK/client.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(fixture.replaceAll('https://chatgpt.com', origin));
    } else if (req.url === '/oauth/mcp-oauth-client-metadata') {
      res.writeHead(403, { 'content-type': 'text/html' });
      res.end('<html><body>Forbidden</body></html>');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  origin = `https://${CLAUDE_HOST}:${port}`;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A certificate for the apex and its wiki hosts, issued by the test CA, valid only in January 2020. */
function expiredCertificate(ca: TestCa, out: string): { certFile: string; keyFile: string } {
  fs.mkdirSync(out, { recursive: true });
  const caDir = path.dirname(ca.caFile);
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: out, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  fs.writeFileSync(path.join(out, 'index.txt'), '');
  fs.writeFileSync(path.join(out, 'serial'), '1000\n');
  fs.writeFileSync(
    path.join(out, 'ca.cnf'),
    [
      '[ca]', 'default_ca = test',
      '[test]', 'database = index.txt', 'new_certs_dir = .', 'serial = serial', 'default_md = sha256', 'policy = any', 'x509_extensions = ext', 'unique_subject = no',
      '[any]', 'commonName = supplied',
      '[ext]', `subjectAltName = DNS:${APEX_HOST},DNS:*.${APEX_HOST}`, 'basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth',
      '',
    ].join('\n'),
  );
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${APEX_HOST}`, '-keyout', 'expired.key', '-out', 'expired.csr']);
  run(['ca', '-batch', '-config', 'ca.cnf', '-cert', ca.caFile, '-keyfile', path.join(caDir, 'ca.key'), '-in', 'expired.csr', '-out', 'expired.crt',
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext']);
  return { certFile: path.join(out, 'expired.crt'), keyFile: path.join(out, 'expired.key') };
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}
