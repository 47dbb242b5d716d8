// Refresh token lifetime rules, all in this file (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2):
//  1. A refresh token lives REFRESH_TOKEN_TTL_SECONDS; each use slides its grant's expiry to the new token's.
//  2. Every use rotates: the presented token gets exactly one successor, and the successor is the
//     family's only live branch.
//  3. Grace: for REFRESH_GRACE_SECONDS after rotation (a client that refreshed twice in parallel, or
//     crashed before saving the answer), presenting the old token again returns the SAME successor
//     with a fresh access token; it never mints a second live refresh token. The successor's value is
//     kept sealed with a server key (refresh-seal.ts) for that window only, then the ciphertext is dropped.
//  4. Replay: a rotated token presented after the window, or after its successor has itself been
//     rotated, revokes the whole grant (and with it every refresh and access token of the family).
//  5. Rotated tokens are kept (hashed) for a week after rotation so a late replay is still recognised
//     (db/purge.ts); revocation (RFC 7009) deletes the family.
// It all runs in one IMMEDIATE SQLite transaction that returns an outcome; errors are thrown after commit.
// The same transaction tells the rate limits who is asking (token-rate-limits.ts), from the rows it reads.
import type { AppContext } from '../../context.ts';
import { nowSeconds, type Db } from '../../db/open.ts';
import type { Grant } from '../grants/grants.repo.ts';
import { InvalidGrant } from '../errors.ts';
import type { AppError } from '../../web/errors.ts';
import { openSuccessor, sealSuccessor } from './refresh-seal.ts';
import type { RefreshToken } from './refresh-tokens.repo.ts';
import type { TokenRequestOrigin } from './token-rate-limits.ts';
import { graceWindowsClosedBefore, refreshGraceClosed, refreshTokenLifetime } from '../../lifetimes.ts';

export type RotationDeps = Pick<AppContext, 'db' | 'config' | 'refreshTokens' | 'grants' | 'sealer'> &
  Partial<Pick<AppContext, 'audit' | 'metrics'>>;

export type RotationOutcome =
  /** A successor to hand out: new (`reused: false`) or the one already issued within grace. */
  | { kind: 'issued'; grant: Grant; refreshToken: string; reused: boolean }
  /** Nothing written: unknown, expired, another client's token, or refused by `check`. */
  | { kind: 'refused'; error: AppError }
  /** Rule 4: the grant has been revoked. */
  | { kind: 'replayed'; grant: Grant; reason: 'after_grace' | 'successor_rotated' };

const invalid = (): RotationOutcome => ({ kind: 'refused', error: new InvalidGrant('The refresh token is invalid or expired.') });

/**
 * Applies rules 1–4 to the presented refresh token of `clientId`. `check` runs on the live grant
 * before anything is written (the resource and scope of the request) and may refuse it.
 */
export function rotateRefreshToken(
  deps: RotationDeps,
  clientId: string,
  value: string,
  check: (grant: Grant) => AppError | undefined,
  origin: TokenRequestOrigin = {},
): RotationOutcome {
  // One transaction function per database, built once (db.transaction wraps on every call otherwise).
  let tx = rotations.get(deps.db);
  if (tx === undefined) {
    tx = deps.db.transaction(rotate);
    rotations.set(deps.db, tx);
  }
  return tx.immediate(deps, clientId, value, check, origin);
}

type Rotate = (deps: RotationDeps, clientId: string, value: string, check: (grant: Grant) => AppError | undefined, origin: TokenRequestOrigin) => RotationOutcome;
const rotations = new WeakMap<Db, { immediate: Rotate }>();

const rotate: Rotate = (deps, clientId, value, check, origin) => {
  const { refreshTokens, grants, config } = deps;
  const now = nowSeconds();
  const presented = refreshTokens.findByValue(value);
  if (!presented) return invalid();
  const grant = grants.findById(presented.grantId);
  // A known token of this client's grant, live or not, spends that grant's budget (may throw 429:
  // nothing has been written yet).
  if (grant?.clientId === clientId) origin.attribute?.({ clientId, grantId: grant.id });
  if (presented.expiresAt <= now) return invalid();
  // Live: neither revoked nor expired (its user row always exists: ON DELETE CASCADE).
  if (!grant || grant.revokedAt !== null || grant.expiresAt <= now) return invalid();
  if (grant.clientId !== clientId) return { kind: 'refused', error: new InvalidGrant('The refresh token was issued to another client.') };

  let reused: string | undefined;
  if (presented.rotatedAt !== null) {
    if (refreshGraceClosed(config, presented.rotatedAt, now)) return replay(deps, grant, 'after_grace', origin);
    reused = graceSuccessor(deps, presented, now);
    if (reused === undefined) return replay(deps, grant, 'successor_rotated', origin);
  }
  const refused = check(grant);
  if (refused) return { kind: 'refused', error: refused };
  if (reused !== undefined) return { kind: 'issued', grant, refreshToken: reused, reused: true };

  const { value: successor, hash: successorHash } = refreshTokens.issue(grant.id, refreshTokenLifetime(config));
  if (!refreshTokens.markRotated(presented.hash, successorHash, sealSuccessor(deps.sealer, successorHash, successor))) {
    throw new Error('refresh token rotated twice inside one IMMEDIATE transaction');
  }
  grants.extend(grant.id, now + refreshTokenLifetime(config));
  dropClosedGraceWindows(deps, now);
  return { kind: 'issued', grant, refreshToken: successor, reused: false };
};

/** Rule 3: the successor's value, while it is live and unrotated and the window is open; else undefined. */
function graceSuccessor(deps: RotationDeps, presented: RefreshToken, now: number): string | undefined {
  if (presented.successorHash === null || presented.successorSealed === null) return undefined;
  const successor = deps.refreshTokens.findByHash(presented.successorHash);
  if (!successor || successor.rotatedAt !== null || successor.expiresAt <= now) return undefined;
  return openSuccessor(deps.sealer, successor.hash, presented.successorSealed);
}

function replay(deps: RotationDeps, grant: Grant, reason: 'after_grace' | 'successor_rotated', origin: { address?: string }): RotationOutcome {
  // Returned, not thrown: a throw would roll the revocation back with the transaction.
  deps.grants.revoke(grant.id);
  // In the same transaction: the revocation and its audit entries commit together (src/audit/audit-log.ts).
  const who = { did: grant.userDid, clientId: grant.clientId, wikiSlug: grant.wikiSlug, address: origin.address };
  deps.audit?.record({ event: 'refresh_replay_detected', ...who, actor: 'replay', detail: { reason } });
  deps.audit?.record({ event: 'grant_revoked', ...who, actor: 'replay', detail: { reason: 'refresh_replay' } });
  deps.metrics?.refreshReplay(reason);
  deps.metrics?.grantRevoked('replay');
  return { kind: 'replayed', grant, reason };
}

/** Rule 3's end: drops the sealed successors whose grace window has closed. */
export function dropClosedGraceWindows(
  deps: Pick<RotationDeps, 'refreshTokens'> & { config: Pick<RotationDeps['config'], 'refreshGraceSeconds'> },
  now = nowSeconds(),
): number {
  return deps.refreshTokens.dropSealedSuccessors(graceWindowsClosedBefore(deps.config, now));
}
