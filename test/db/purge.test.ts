// Purge keeps what may still matter and deletes what cannot: the rules the replay defences rely on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { purgeExpired } from '../../src/db/purge.ts';

let ctx: AppContext;
let dir: string;
const DAY = 24 * 60 * 60;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'purge-'));
  ctx = await createContext(parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }));
  const now = nowSeconds();
  ctx.db.prepare("INSERT INTO users VALUES ('did:plc:a', 'a.test', NULL, 'alice', ?, ?)").run(now, now);
  ctx.db.prepare("INSERT INTO wikis (slug, owner_did, created_at) VALUES ('alice', 'did:plc:a', ?)").run(now);
  ctx.db.prepare(`INSERT INTO oauth_clients (client_id, kind, metadata, created_at) VALUES ('c', 'registered', '{}', ?)`).run(now);
  ctx.grants.insert({ id: 'g', clientId: 'c', userDid: 'did:plc:a', wikiSlug: 'alice', resource: 'r', scope: 'wiki:read', expiresAt: now + 30 * DAY });
});
afterEach(() => {
  ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('purgeExpired: refresh tokens', () => {
  it('keeps a rotated refresh token for a week (a replay must still revoke the grant), then deletes it', () => {
    const recent = ctx.refreshTokens.insert('g', 30 * DAY);
    const old = ctx.refreshTokens.insert('g', 30 * DAY);
    const current = ctx.refreshTokens.insert('g', 30 * DAY);
    const rotatedAt = (value: string, at: number) =>
      ctx.db.prepare('UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?').run(at, ctx.refreshTokens.findByValue(value)!.hash);
    rotatedAt(recent, nowSeconds() - 6 * DAY);
    rotatedAt(old, nowSeconds() - 8 * DAY);

    expect(purgeExpired(ctx.db, { clientIdleSeconds: 7 * DAY }).refresh_tokens).toBe(1);
    expect(ctx.refreshTokens.findByValue(old)).toBeUndefined();
    expect(ctx.refreshTokens.findByValue(recent)).toBeDefined();
    expect(ctx.refreshTokens.findByValue(current)).toBeDefined();
    expect(ctx.grants.findLive('g')).toBeDefined();
  });
});
