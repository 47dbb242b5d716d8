// Issue 9 finding 1: unauthenticated SSRF through "Sign in with Bluesky". Anyone could type an https
// origin into the login form; the ATProto client fetched that origin's metadata and POSTed its
// pushed authorization request to whatever endpoint the metadata named. Naming Caddy's admin API
// (http://localhost:2019/stop) stopped Caddy. Here, in production mode:
// - the attacker origin is a real https server on a name the operator allowlists
//   (OUTBOUND_PRIVATE_HOSTS) and this process pins to 127.0.0.1, with a certificate the process
//   trusts, so the metadata is reachable exactly as a public attacker's would be;
// - its metadata points PAR and the token endpoint at a recording server on loopback that is NOT
//   allowlisted (http://localhost:PORT/stop, and an https://127.0.0.1 variant);
// - the login form is posted through the real route, with its CSRF token, as a browser would.
// The recorder must see no connection at all; the person gets a plain 400 page; the operator log
// says what was refused and what to do.
// Names and certificates are pinned process-wide (dns.lookup, the default CA list), as a preload
// would do it, so the code under test runs exactly its production path.
import dns from 'node:dns';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cookiesFrom, formField } from '../hardening/support.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { writeTestKeyFiles } from '../support/key-files.ts';
import { createTestCertificate, type TestCertificate } from '../support/test-certificate.ts';

const ATTACKER_HOST = 'attacker.probe.internal';
/** Also pinned to 127.0.0.1, but not allowlisted: an attacker's DNS name for the loopback interface. */
const LOOPBACK_NAME = 'admin.probe.internal';
const PINNED = new Set([ATTACKER_HOST, LOOPBACK_NAME]);
const PUBLIC_URL = 'https://auth.probe.example';

interface Recorder {
  url: string;
  /** Connections accepted: any at all means the app reached the target. */
  connections: number;
  requests: string[];
}

let certificate: TestCertificate | undefined;
let keysDir: string | undefined;
let key: string;
let cert: string;
let app: TestApp;
let pdsMetadata: string;
let pdsOrigin: string;
let logLines: { level: number; msg: string; [field: string]: unknown }[];
const restore: (() => void)[] = [];
const servers: (http.Server | https.Server)[] = [];

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

type RecorderKind = 'http://localhost' | 'https://127.0.0.1' | 'https://a name resolving to 127.0.0.1';

async function startRecorder(kind: RecorderKind): Promise<Recorder> {
  const requests: string[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    req.resume();
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ request_uri: 'urn:x', expires_in: 60 }));
  };
  const server = kind === 'http://localhost' ? http.createServer(handler) : https.createServer({ key, cert }, handler);
  const state = { connections: 0 };
  server.on('connection', () => state.connections++);
  const port = await listen(server);
  const recorder: Recorder = {
    url: {
      'http://localhost': `http://localhost:${port}/stop`,
      'https://127.0.0.1': `https://127.0.0.1:${port}/stop`,
      'https://a name resolving to 127.0.0.1': `https://${LOOPBACK_NAME}:${port}/stop`,
    }[kind],
    get connections() {
      return state.connections;
    },
    requests,
  };
  servers.push(server);
  return recorder;
}

/**
 * An attacker's origin serving the local PDS's real authorization-server metadata, re-pointed at
 * itself except PAR, token and revocation, which go to `target`. One origin per target: the
 * client caches metadata per origin.
 */
async function startAttacker(target: string): Promise<string> {
  let attackerOrigin = '';
  const attacker = https.createServer({ key, cert }, (req, res) => {
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/.well-known/oauth-protected-resource') {
      json({ resource: attackerOrigin, authorization_servers: [attackerOrigin] });
    } else if (req.url === '/.well-known/oauth-authorization-server') {
      const metadata = JSON.parse(pdsMetadata.split(pdsOrigin).join(attackerOrigin)) as Record<string, unknown>;
      json({ ...metadata, pushed_authorization_request_endpoint: target, token_endpoint: target, revocation_endpoint: target });
    } else {
      res.writeHead(404).end();
    }
  });
  servers.push(attacker);
  attackerOrigin = `https://${ATTACKER_HOST}:${await listen(attacker)}`;
  return attackerOrigin;
}

/** Pins the PINNED names to 127.0.0.1 for this process, as /etc/hosts or a preload would. */
function pinAttackerName(): void {
  const original = dns.lookup;
  const pinned = ((hostname: string, options: unknown, callback: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as dns.LookupOptions;
    if (!PINNED.has(hostname.toLowerCase())) {
      (original as (...args: unknown[]) => void)(hostname, options, callback);
      return;
    }
    if (opts.all) process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
    else process.nextTick(cb, null, '127.0.0.1', 4);
  }) as typeof dns.lookup;
  dns.lookup = pinned;
  restore.push(() => {
    dns.lookup = original;
  });
}

/** Trusts the test certificate process-wide, as NODE_EXTRA_CA_CERTS would. */
function trustTestCertificate(): void {
  const defaults = tls.getCACertificates('default');
  tls.setDefaultCACertificates([...defaults, cert]);
  restore.push(() => tls.setDefaultCACertificates(defaults));
}

beforeAll(async () => {
  certificate = createTestCertificate([`DNS:${ATTACKER_HOST}`, `DNS:${LOOPBACK_NAME}`, 'IP:127.0.0.1']);
  ({ key, cert } = certificate);
  pinAttackerName();
  trustTestCertificate();
  pdsOrigin = new URL(inject('pdsUrl')).origin;
  pdsMetadata = await (await fetch(`${pdsOrigin}/.well-known/oauth-authorization-server`)).text();

  keysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-ssrf-keys-'));
  const keyFiles = { platformKeysFile: path.join(keysDir, 'platform.json'), atprotoClientKeysFile: path.join(keysDir, 'atproto.json') };
  await writeTestKeyFiles(keyFiles);
  logLines = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as (typeof logLines)[number]) });
  app = await startTestApp(
    {
      PUBLIC_URL,
      PLATFORM_KEYS_FILE: keyFiles.platformKeysFile,
      ATPROTO_CLIENT_KEYS_FILE: keyFiles.atprotoClientKeysFile,
      // Production resolves handles and DIDs publicly; this test types an origin, so none are needed.
      ATPROTO_PLC_URL: '',
      ATPROTO_HANDLE_RESOLVER: '',
      OUTBOUND_PRIVATE_HOSTS: ATTACKER_HOST,
    },
    { log },
  );
});

afterAll(async () => {
  await app?.close();
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  for (const undo of restore.reverse()) undo();
  certificate?.remove();
  if (keysDir) fs.rmSync(keysDir, { recursive: true, force: true });
});

/** Loads the login page and posts the form with its CSRF token, as a browser on the apex would. */
async function postLogin(handle: string): Promise<request.Response> {
  const apex = new URL(PUBLIC_URL).host;
  const agent = () => request(`http://127.0.0.1:${app.port}`);
  const page = await agent().get('/auth/login').set('Host', apex);
  expect(page.status).toBe(200);
  const token = formField(page.text, '_csrf');
  const jar = cookiesFrom(page);
  expect(token).toBeDefined();
  const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  return agent()
    .post('/auth/login')
    .set('Host', apex)
    .set('Origin', PUBLIC_URL)
    .set('Sec-Fetch-Site', 'same-origin')
    .set('Cookie', cookie)
    .type('form')
    .send({ handle, _csrf: token ?? '' });
}

describe('an attacker origin whose metadata points PAR and token at loopback (production mode)', () => {
  it('the attacker origin itself is reachable: its name is allowlisted, pinned and trusted', async () => {
    const attackerOrigin = await startAttacker('https://unused.invalid/');
    const res = await fetch(`${attackerOrigin}/.well-known/oauth-protected-resource`);
    expect(res.status).toBe(200);
  });

  // Which check stops each variant: ours for all; the ATProto library also refuses metadata whose
  // endpoints are IP literals, so for that variant its refusal comes first and ours is not reached.
  const variants: { kind: RecorderKind; refusal: RegExp | undefined }[] = [
    { kind: 'http://localhost', refusal: /^http: URLs are not fetched/ },
    { kind: 'https://127.0.0.1', refusal: undefined },
    { kind: 'https://a name resolving to 127.0.0.1', refusal: /^admin\.probe\.internal resolves to a non-public address \(127\.0\.0\.1\)/ },
  ];
  for (const { kind, refusal } of variants) {
    it(`PAR and token at ${kind} (Caddy's admin API stand-in): nothing reaches it, the person sees a plain 400`, async () => {
      const recorder = await startRecorder(kind);
      const attackerOrigin = await startAttacker(recorder.url);
      const before = logLines.length;

      const res = await postLogin(attackerOrigin);

      expect(recorder.connections).toBe(0);
      expect(recorder.requests).toEqual([]);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain(`We could not reach a sign-in server at ${attackerOrigin}`);
      expect(res.text).not.toContain(recorder.url);
      const lines = logLines.slice(before);
      expect(lines.find((l) => l.msg === 'sign-in could not start')).toMatchObject({ identifier: attackerOrigin });
      if (refusal) {
        // The operator's log names the refused target, the reason, and what to do if it is theirs.
        const refused = lines.find((l) => l.msg.startsWith('outbound request refused'));
        expect(refused).toMatchObject({ level: 40, target: new URL(recorder.url).origin, path: '/stop' });
        expect(String(refused?.reason)).toMatch(refusal);
        expect(refused?.msg).toContain('OUTBOUND_PRIVATE_HOSTS');
      }
    });
  }
});

describe('identity resolution goes through the same policy (production mode)', () => {
  // Nothing can listen on port 443 here, so these two show the policy's refusal in the log (what
  // stops the request before any connection); the attack tests above show that nothing is reached.
  it('a did:web on a name resolving to loopback: its DID document fetch is refused by the policy, the person sees a plain 400', async () => {
    const did = `did:web:${LOOPBACK_NAME}`;
    const before = logLines.length;

    const res = await postLogin(did);

    expect(res.status).toBe(400);
    expect(res.text).toContain(`We could not find &#34;${did}&#34;`);
    const refused = logLines.slice(before).filter((l) => l.msg.startsWith('outbound request refused'));
    // The first attempt and the fresh retry in startSignIn: both go through the policy.
    expect(refused).toHaveLength(2);
    for (const line of refused) {
      expect(line).toMatchObject({ target: `https://${LOOPBACK_NAME}`, path: '/.well-known/did.json' });
      expect(String(line.reason)).toMatch(/^admin\.probe\.internal resolves to a non-public address \(127\.0\.0\.1\)/);
    }
  });

  it('a handle on a name resolving to loopback: its /.well-known/atproto-did is refused by the policy', async () => {
    const before = logLines.length;
    const res = await postLogin(LOOPBACK_NAME);
    expect(res.status).toBe(400);
    const refused = logLines.slice(before).find((l) => l.msg.startsWith('outbound request refused'));
    expect(refused).toMatchObject({ target: `https://${LOOPBACK_NAME}`, path: '/.well-known/atproto-did' });
  });
});
