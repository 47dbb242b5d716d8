// Purge keeps what may still matter and deletes what cannot: the rules the replay defences rely on.
import { createGrantsRepo } from '../../src/oauth/grants/grants.repo.ts';
import { createRefreshTokensRepo } from '../../src/oauth/token/refresh-tokens.repo.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { purgeExpired } from '../../src/db/purge.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { seedClientWithId, seedGrant, seedUser } from '../support/seed.ts';

let app: TestApp;
let ctx: AppContext;
const DAY = 24 * 60 * 60;

beforeEach(async () => {
  app = await startTestApp({}, { listen: false });
  ctx = app.ctx;
  await seedUser(ctx, 'alice', 'did:plc:a');
  await seedClientWithId(ctx, 'c');
  await seedGrant(ctx, ctx.config, { id: 'g', did: 'did:plc:a', slug: 'alice', clientId: 'c', scope: 'wiki:read', expiresAt: nowSeconds() + 30 * DAY, refreshToken: false });
});
afterEach(() => app.close());
const refreshTokens = () => createRefreshTokensRepo(ctx.sqlite!.db);
const grants = () => createGrantsRepo(ctx.sqlite!.db);

describe('purgeExpired: refresh tokens', () => {
  it('keeps a rotated refresh token for a week (a replay must still revoke the grant), then deletes it', () => {
    const recent = refreshTokens().insert('g', 30 * DAY);
    const old = refreshTokens().insert('g', 30 * DAY);
    const current = refreshTokens().insert('g', 30 * DAY);
    const rotatedAt = (value: string, at: number) =>
      ctx.sqlite!.db.prepare('UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?').run(at, refreshTokens().findByValue(value)!.hash);
    rotatedAt(recent, nowSeconds() - 6 * DAY);
    rotatedAt(old, nowSeconds() - 8 * DAY);

    expect(purgeExpired(ctx.sqlite!.db, { clientIdleSeconds: 7 * DAY }).refresh_tokens).toBe(1);
    expect(refreshTokens().findByValue(old)).toBeUndefined();
    expect(refreshTokens().findByValue(recent)).toBeDefined();
    expect(refreshTokens().findByValue(current)).toBeDefined();
    expect(grants().findLive('g')).toBeDefined();
  });
});
