// Issue 9 finding 8: the refresh grace window must not fork the token family (RFC 9700 §4.14.2,
// OAuth 2.1 §4.3.1; src/oauth/token/refresh-rotation.ts). Before the fix each reuse of a just-rotated
// token within grace minted another live refresh token, each branch then rotated normally, and reuse
// detection never fired. Now a reuse within grace returns the same successor, and anything else is a
// replay that revokes the grant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../src/db/open.ts';
import { refreshTokenHash } from '../../src/oauth/token/refresh-tokens.repo.ts';
import {
  connectClient,
  grantIdOf,
  mcpCall,
  refresh,
  refreshSucceeds,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  WHOAMI,
  type HardeningApp,
  type Tokens,
} from '../hardening/support.ts';

let app: HardeningApp;
beforeAll(async () => {
  app = await startHardeningApp();
});
afterAll(async () => {
  await app?.close();
});


/** Refresh tokens of the grant that could still be used to mint a new branch: neither rotated nor expired. */
const liveBranches = (grantId: string): Promise<number> => app.sql().count('refresh_tokens', 'grant_id = ? AND rotated_at IS NULL AND expires_at > ?', grantId, nowSeconds());

async function connect(): Promise<{ clientId: string; tokens: Tokens; grantId: string; slug: string }> {
  const user = await seedUser(app.ctx);
  const { client, tokens } = await connectClient(app, await signedInBrowser(app, user));
  return { clientId: client.clientId, tokens, grantId: grantIdOf(tokens.access_token), slug: user.username };
}

const refreshOk = (clientId: string, token: string): Promise<Tokens> => refreshSucceeds(app, clientId, token);

describe('reusing a rotated refresh token within the grace window', () => {
  it('three uses of one token give the same successor and leave exactly one live branch', async () => {
    const { clientId, tokens, grantId, slug } = await connect();
    const answers = [await refreshOk(clientId, tokens.refresh_token), await refreshOk(clientId, tokens.refresh_token), await refreshOk(clientId, tokens.refresh_token)];

    expect(new Set(answers.map((a) => a.refresh_token)).size, 'one successor, not three').toBe(1);
    expect(answers[0]!.refresh_token).not.toBe(tokens.refresh_token);
    // Each answer carries its own, working access token.
    expect(new Set(answers.map((a) => a.access_token)).size).toBe(3);
    for (const a of answers) expect((await mcpCall(app, slug, a.access_token, WHOAMI)).status).toBe(200);
    expect(await liveBranches(grantId)).toBe(1);

    // The successor rotates normally; the family still has one live branch.
    const next = await refreshOk(clientId, answers[1]!.refresh_token);
    expect(await liveBranches(grantId)).toBe(1);
    // Within its own grace, the successor again yields the same next token.
    expect((await refreshOk(clientId, answers[2]!.refresh_token)).refresh_token).toBe(next.refresh_token);
    expect(await liveBranches(grantId)).toBe(1);
  });

  it('once the successor has rotated, a grace reuse of the grandparent is a replay that revokes the grant', async () => {
    const { clientId, tokens, grantId, slug } = await connect();
    const child = await refreshOk(clientId, tokens.refresh_token);
    const grandchild = await refreshOk(clientId, child.refresh_token);

    const replay = await refresh(app, clientId, tokens.refresh_token);
    expect(replay.status, replay.text).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(await app.ctx.store.repos.grants.findLive(grantId)).toBeUndefined();
    expect(await liveBranches(grantId)).toBe(0);
    expect((await refresh(app, clientId, grandchild.refresh_token)).status).toBe(400);
    expect((await mcpCall(app, slug, grandchild.access_token, WHOAMI)).status).toBe(401);
  });

  it('a use after the window is a replay that revokes the grant; nothing of the successor is stored', async () => {
    const { clientId, tokens, grantId, slug } = await connect();
    const child = await refreshOk(clientId, tokens.refresh_token);
    // The successor is made again from the presented token on a reuse: neither it nor a ciphertext of it is kept.
    const rotated = await app.sql().get<{ h: string; s: string | null }>('SELECT successor_hash AS h, successor_sealed AS s FROM refresh_tokens WHERE hash = ?', refreshTokenHash(tokens.refresh_token));
    expect(rotated).toEqual({ h: refreshTokenHash(child.refresh_token), s: null });
    const rows = JSON.stringify(await app.sql().all('SELECT * FROM refresh_tokens WHERE grant_id = ?', grantId));
    expect(rows).not.toContain(child.refresh_token);
    expect(rows).not.toContain(child.refresh_token.slice(12));

    await app.sql().run('UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?', nowSeconds() - app.ctx.config.refreshGraceSeconds - 1, refreshTokenHash(tokens.refresh_token));
    const late = await refresh(app, clientId, tokens.refresh_token);
    expect(late.status, late.text).toBe(400);
    expect(late.body.error).toBe('invalid_grant');
    expect(await app.ctx.store.repos.grants.findLive(grantId)).toBeUndefined();
    expect((await refresh(app, clientId, child.refresh_token)).status).toBe(400);
    expect((await mcpCall(app, slug, child.access_token, WHOAMI)).status).toBe(401);
  });

  it('a reuse hands out only the successor recorded for it: a successor_hash pointed at another live token is a replay', async () => {
    const { clientId, tokens, grantId } = await connect();
    const child = await refreshOk(clientId, tokens.refresh_token);
    // Another live, unrotated token of the same grant (what an attacker who can write the database
    // would point the rotated row at, to have the reuse hand it out).
    const other = await app.ctx.store.repos.refreshTokens.issue(grantId, 3600);
    await app.sql().run('UPDATE refresh_tokens SET successor_hash = ? WHERE hash = ?', other.hash, refreshTokenHash(tokens.refresh_token));
    const res = await refresh(app, clientId, tokens.refresh_token);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain(other.value);
    expect(JSON.stringify(res.body)).not.toContain(child.refresh_token);
    expect(await app.ctx.store.repos.grants.findLive(grantId)).toBeUndefined();
  });
});

describe('a row rotated before successors were derived (its successor sealed)', () => {
  /** The presented token rotated the former way: the successor's value sealed in `successor_sealed`. */
  async function rotatedTheFormerWay(): Promise<{ clientId: string; presented: string; successor: string; grantId: string }> {
    const { clientId, tokens, grantId } = await connect();
    const successor = await app.ctx.store.repos.refreshTokens.issue(grantId, 3600);
    const sealed = app.ctx.sealer.seal(successor.value, `refresh_tokens.successor_sealed:${successor.hash}`);
    await app.sql().run(
      'UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ?, successor_sealed = ? WHERE hash = ?',
      nowSeconds(),
      successor.hash,
      sealed,
      refreshTokenHash(tokens.refresh_token),
    );
    return { clientId, presented: tokens.refresh_token, successor: successor.value, grantId };
  }

  it('still returns that successor within its window', async () => {
    const { clientId, presented, successor, grantId } = await rotatedTheFormerWay();
    expect((await refreshOk(clientId, presented)).refresh_token).toBe(successor);
    expect(await liveBranches(grantId)).toBe(1);
  });

  it('a tampered ciphertext is never opened: the reuse is treated as a replay', async () => {
    const { clientId, presented, successor, grantId } = await rotatedTheFormerWay();
    const hash = refreshTokenHash(presented);
    const row = (await app.sql().get<{ s: string }>('SELECT successor_sealed AS s FROM refresh_tokens WHERE hash = ?', hash))!;
    // v1.{kid}.{iv}.{ciphertext‖tag} (src/lib/sealing.ts): flip one bit of the ciphertext.
    const [version, kid, iv, body] = row.s.split('.');
    const flipped = Buffer.from(body!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    await app.sql().run('UPDATE refresh_tokens SET successor_sealed = ? WHERE hash = ?', [version, kid, iv, flipped.toString('base64url')].join('.'), hash);
    const res = await refresh(app, clientId, presented);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain(successor);
    expect(await app.ctx.store.repos.grants.findLive(grantId)).toBeUndefined();
  });
});

describe('30 concurrent refreshes of one token', () => {
  it('no 5xx, every answer carries the same successor, and the family keeps one live branch', async () => {
    const { clientId, tokens, grantId, slug } = await connect();
    const replies = await Promise.all(Array.from({ length: 30 }, () => refresh(app, clientId, tokens.refresh_token)));
    for (const r of replies) expect(r.status, r.text).toBe(200);
    expect(new Set(replies.map((r) => (r.body as Tokens).refresh_token)).size).toBe(1);
    expect(await liveBranches(grantId)).toBe(1);
    const next = await refreshOk(clientId, (replies[0]!.body as Tokens).refresh_token);
    expect((await mcpCall(app, slug, next.access_token, WHOAMI)).status).toBe(200);
  });
});
