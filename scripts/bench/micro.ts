// In-process costs of the pieces behind the load figures, one at a time, on one core (run it
// pinned: `taskset -c 1 node scripts/bench/micro.ts`). Used to attribute the misses in
// docs/benchmarks.md; not part of `npm run bench`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { z } from 'zod';
import { parseConfig } from '../../src/config/env.ts';
import { generatePrivateJwk, loadPlatformKeys } from '../../src/config/keys.ts';
import { randomToken } from '../../src/lib/secrets.ts';
import { createContext } from '../../src/context.ts';
import { signAccessToken, verifyAccessTokenJwt } from '../../src/oauth/tokens/access-token.ts';
import { rotateRefreshToken } from '../../src/oauth/token/refresh-rotation.ts';
import { checkBearer } from '../../src/resource/check-bearer.ts';
import { authInfoOf, createWikiMcpServer, MCP_SERVER_INFO, sharedServer } from '../../src/resource/mcp/mcp-server.ts';
import { accessTokenInput, createPools } from './pools.ts';
import { buildDatabase, grantUser, SMALL, wikiSlug } from './seed.ts';

async function time(name: string, n: number, fn: () => unknown): Promise<void> {
  for (let i = 0; i < Math.min(200, n); i++) await fn();
  const started = performance.now();
  for (let i = 0; i < n; i++) await fn();
  console.log(`${name.padEnd(60)} ${(((performance.now() - started) / n) * 1000).toFixed(1).padStart(7)} µs`);
}

/**
 * The cheapest of five batches of n calls, as CPU time of the whole process per call (user + system,
 * every thread: jose's WebCrypto work runs on libuv's pool) and as wall time. On a shared, loaded
 * machine the CPU figure is the steady one; the minimum over batches drops the batches that were preempted.
 */
async function best(name: string, n: number, fn: () => unknown): Promise<void> {
  for (let i = 0; i < Math.min(200, n); i++) await fn();
  let cpu = Infinity;
  let wall = Infinity;
  for (let batch = 0; batch < 5; batch++) {
    const started = performance.now();
    const usage = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn();
    const used = process.cpuUsage(usage);
    wall = Math.min(wall, ((performance.now() - started) * 1000) / n);
    cpu = Math.min(cpu, (used.user + used.system) / n);
  }
  console.log(`${name.padEnd(60)} ${cpu.toFixed(1).padStart(7)} µs CPU ${wall.toFixed(1).padStart(7)} µs wall (best of 5 × ${n})`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-micro-'));
try {
  buildDatabase(path.join(dir, 'app.sqlite'), SMALL);
  const ctx = await createContext(parseConfig({ DATA_DIR: dir, DATABASE_FILE: path.join(dir, 'app.sqlite'), LOG_LEVEL: 'silent' }));
  const deps = { config: ctx.config, keys: ctx.platformKeys };
  const input = accessTokenInput(SMALL, 5);
  const { token } = await signAccessToken(deps, input);
  const slug = wikiSlug(grantUser(SMALL, 5));
  const [header, payload, signature] = token.split('.');
  const signingInput = Buffer.from(`${header}.${payload}`);
  const sig = Buffer.from(signature ?? '', 'base64url');
  const publicKey = crypto.createPublicKey({ key: ctx.platformKeys.current.publicJwk as crypto.JsonWebKey, format: 'jwk' });
  const privateJwk = (JSON.parse(fs.readFileSync(ctx.config.platformKeysFile, 'utf8')) as { keys: crypto.JsonWebKey[] }).keys[0];
  const privateKey = crypto.createPrivateKey({ key: privateJwk ?? {}, format: 'jwk' });

  console.log('Access tokens per algorithm: this service (node:crypto, synchronous) against jose (WebCrypto)');
  for (const alg of ['RS256', 'ES256'] as const) {
    const keys = await loadPlatformKeys([await generatePrivateJwk(alg)], undefined, 'access', alg);
    const algDeps = { config: ctx.config, keys };
    const signed = signAccessToken(algDeps, input).token;
    const joseSign = () =>
      new jose.SignJWT({ client_id: input.clientId, scope: input.scope, gid: input.grantId })
        .setProtectedHeader({ alg, kid: keys.current.kid, typ: 'at+jwt' })
        .setIssuer(ctx.config.publicUrl)
        .setSubject(input.did)
        .setAudience(input.resource)
        .setJti(randomToken(16))
        .setIssuedAt()
        .setExpirationTime(`${ctx.config.accessTokenTtlSeconds}s`)
        .sign(keys.current.privateKey);
    const joseVerify = () =>
      jose.jwtVerify(signed, keys.verificationKeySet, {
        issuer: ctx.config.publicUrl,
        audience: input.resource,
        typ: 'at+jwt',
        algorithms: [alg],
        requiredClaims: ['sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope'],
        clockTolerance: 30,
      });
    await best(`${alg} sign: signAccessToken (node:crypto, sync, whole JWT)`, alg === 'RS256' ? 400 : 2000, () => signAccessToken(algDeps, input));
    await best(`${alg} sign: jose SignJWT (WebCrypto, same claims)`, alg === 'RS256' ? 400 : 2000, joseSign);
    await best(`${alg} verify: verifyAccessTokenJwt (node:crypto, sync, whole)`, 2000, () => verifyAccessTokenJwt(algDeps, signed, input.resource));
    await best(`${alg} verify: jose.jwtVerify (WebCrypto, same checks)`, 2000, joseVerify);
  }

  console.log('Bearer check');
  await time('verifyAccessTokenJwt (node:crypto RS256, the app\'s key)', 5000, () => verifyAccessTokenJwt(deps, token, input.resource));
  await time('crypto.verify RS256, synchronous (signature only)', 5000, () => crypto.verify('sha256', signingInput, publicKey, sig));
  await time('checkBearer (whole: wiki, JWT, grant, revocation, scopes)', 5000, () => checkBearer(ctx, `Bearer ${token}`, slug, 'wiki:read'));
  await time('grants.findLive', 20000, () => ctx.store.repos.grants.findLive(input.grantId));
  await time('wikis.findBySlug', 20000, () => ctx.store.repos.wikis.findBySlug(slug));
  await time('revokedAccessTokens.isRevoked', 20000, () => ctx.store.repos.revokedAccessTokens.isRevoked('none'));

  console.log('Signing');
  await time('signAccessToken (node:crypto RS256, the app\'s key)', 2000, () => signAccessToken(deps, input));
  await time('crypto.sign RS256, synchronous (signature only)', 2000, () => crypto.sign('sha256', signingInput, privateKey));

  console.log('SQLite (WAL, synchronous=NORMAL, as the app opens it)');
  const values = createPools(ctx, SMALL).refreshPool(5500).map((b) => new URLSearchParams(b).get('refresh_token') ?? '');
  let next = 0;
  const clientIds = await Promise.all(
    values.map(async (v) => {
      const presented = await ctx.store.repos.refreshTokens.findByValue(v);
      return (presented && (await ctx.store.repos.grants.findById(presented.grantId))?.clientId) ?? '';
    }),
  );
  await time('refresh rotation (refresh-rotation.ts: one transaction, sealed successor, no signing)', 5000, async () => {
    const i = next++;
    const outcome = await rotateRefreshToken(ctx, clientIds[i] ?? '', values[i] ?? '', () => undefined);
    if (outcome.kind !== 'issued') throw new Error(`refresh not issued: ${outcome.kind}`);
  });
  const db = ctx.sqlite!.db;
  db.exec('CREATE TABLE micro_scratch (hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) STRICT');
  const insert = db.prepare('INSERT INTO micro_scratch VALUES (?, ?, ?, ?)');
  await time('one-insert write transaction (the baseline)', 5000, () =>
    db.transaction(() => insert.run(crypto.randomBytes(16).toString('hex'), 'g', 1, 2)).immediate(),
  );

  console.log('MCP');
  const caller = { did: input.did, handle: 'h', wiki: slug, scopes: ['wiki:read' as const], clientId: input.clientId, grantId: input.grantId, jti: 'j' };
  await time('createWikiMcpServer (one per request on the SDK-transport path)', 2000, () => createWikiMcpServer());
  const { transport: single } = await sharedServer();
  const call = { jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
  const never = new AbortController().signal;
  await time('tools/call whoami through the shared server (SingleRequestTransport)', 5000, () => single.request(call, authInfoOf(caller), never));
  const shared = new AjvJsonSchemaValidator();
  await time('the same with one shared jsonSchemaValidator', 2000, () => {
    const server = new McpServer(MCP_SERVER_INFO, { capabilities: { tools: {} }, jsonSchemaValidator: shared });
    server.registerTool(
      'whoami',
      { title: 'Who am I', description: 'x', outputSchema: { did: z.string(), handle: z.string(), wiki: z.string(), scopes: z.array(z.string()) } },
      () => ({ content: [], structuredContent: {} }),
    );
    return server;
  });
  ctx.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
