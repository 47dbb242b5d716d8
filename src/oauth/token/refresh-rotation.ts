// Refresh token lifetime rules, all in this file (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2):
//  1. A refresh token lives REFRESH_TOKEN_TTL_SECONDS; each use slides its grant's expiry past the new
//     token's (written at most once a minute per grant: lifetimes.ts grantExpiryAtRotation).
//  2. Every use rotates: the presented token gets exactly one successor, and the successor is the
//     family's only live branch.
//  3. Grace: for REFRESH_GRACE_SECONDS after rotation (a client that refreshed twice in parallel, or
//     crashed before saving the answer), presenting the old token again returns the SAME successor
//     with a fresh access token; it never mints a second live refresh token. The successor's value is
//     never stored: it is made from the presented token's value under a server key, and made again
//     on a reuse (refresh-successor.ts).
//  4. Replay: a rotated token presented after the window, or after its successor has itself been
//     rotated, revokes the whole grant (and with it every refresh and access token of the family).
//  5. Rotated tokens are kept (hashed) for a week after rotation so a late replay is still recognised
//     (db/purge.ts); revocation (RFC 7009) deletes the family.
// It all runs in one store transaction (src/storage/store.ts) that returns an outcome: the deciding
// read locks the presented token's row (findByValueForUpdate: SELECT … FOR UPDATE on PostgreSQL, the
// BEGIN IMMEDIATE writer lock on SQLite), so concurrent uses of one token, on one instance or several,
// run one after the other. Errors are thrown, and the log line, audit announcement and metrics of a
// replay written, after commit.
// The same transaction tells the rate limits who is asking (token-rate-limits.ts), from the rows it
// reads, before anything is written; a 429 there is returned as a refusal (nothing written).
import type { AppContext } from '../../context.ts';
import { nowSeconds } from '../../db/open.ts';
import type { AuditEvent } from '../../audit/audit-log.ts';
import type { Repositories } from '../../storage/store.ts';
import type { Grant } from '../grants/grants.repo.ts';
import { InvalidGrant } from '../errors.ts';
import { AppError } from '../../web/errors.ts';
import { successorAgain, successorValue } from './refresh-successor.ts';
import type { RefreshToken } from './refresh-tokens.repo.ts';
import type { Asker, TokenRequestOrigin } from './token-rate-limits.ts';
import { graceWindowsClosedBefore, grantExpiryAtRotation, refreshGraceClosed, refreshTokenLifetime } from '../../lifetimes.ts';

export type RotationDeps = Pick<AppContext, 'store' | 'config' | 'sealer'> & Partial<Pick<AppContext, 'audit' | 'metrics'>>;

export type RotationOutcome =
  /** A successor to hand out: new (`reused: false`) or the one already issued within grace. */
  | { kind: 'issued'; grant: Grant; refreshToken: string; reused: boolean }
  /** Nothing written: unknown, expired, another client's token, refused by `check` or by the rate limits. */
  | { kind: 'refused'; error: AppError }
  /** Rule 4: the grant has been revoked. */
  | { kind: 'replayed'; grant: Grant; reason: 'after_grace' | 'successor_rotated' };

/** The transaction's outcome: a replay also carries its audit entries, announced after commit. */
type Decided =
  | Exclude<RotationOutcome, { kind: 'replayed' }>
  | { kind: 'replayed'; grant: Grant; reason: 'after_grace' | 'successor_rotated'; audit: { event: AuditEvent; stored: boolean }[] };

const invalid = (): Decided => ({ kind: 'refused', error: new InvalidGrant('The refresh token is invalid or expired.') });

/**
 * Applies rules 1–4 to the presented refresh token of `clientId`. `check` runs on the live grant
 * before anything is written (the resource and scope of the request) and may refuse it.
 */
export async function rotateRefreshToken(
  deps: RotationDeps,
  clientId: string,
  value: string,
  check: (grant: Grant) => AppError | undefined,
  origin: TokenRequestOrigin = {},
): Promise<RotationOutcome> {
  const decided: Decided = await deps.store.transaction((tx) => rotate(deps, tx, clientId, value, check, origin));
  if (decided.kind !== 'replayed') return decided;
  // Committed: now the effects outside the database (store.ts rule 4).
  for (const { event, stored } of decided.audit) deps.audit?.announce(event, stored);
  deps.metrics?.refreshReplay(decided.reason);
  deps.metrics?.grantRevoked('replay');
  return { kind: 'replayed', grant: decided.grant, reason: decided.reason };
}

/** Spends the asker's budgets (token-rate-limits.ts); a 429 comes back as a refusal, not a throw (nothing is rolled back). */
export function attributeAsker(origin: TokenRequestOrigin, asker: Asker): AppError | undefined {
  try {
    origin.attribute?.(asker);
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

async function rotate(
  deps: RotationDeps,
  tx: Repositories,
  clientId: string,
  value: string,
  check: (grant: Grant) => AppError | undefined,
  origin: TokenRequestOrigin,
): Promise<Decided> {
  const { config } = deps;
  const now = nowSeconds();
  const presented = await tx.refreshTokens.findByValueForUpdate(value);
  if (!presented) return invalid();
  const grant = await tx.grants.findById(presented.grantId);
  // Live: neither revoked nor expired (its user row always exists: ON DELETE CASCADE).
  const live = grant !== undefined && presented.expiresAt > now && grant.revokedAt === null && grant.expiresAt > now;
  const graceClosed = presented.rotatedAt !== null && refreshGraceClosed(config, presented.rotatedAt, now);
  const reused = live && presented.rotatedAt !== null && !graceClosed ? await graceSuccessor(deps, tx, value, presented, now) : undefined;
  // A known token of this client's grant spends that grant's budget; the client's only if it proves
  // possession: live and unrotated, or a reuse within the grace window (token-rate-limits.ts). A 429
  // is returned before anything has been written.
  if (grant?.clientId === clientId) {
    const limited = attributeAsker(origin, { clientId, grantId: grant.id, proven: live && (presented.rotatedAt === null || reused !== undefined) });
    if (limited) return { kind: 'refused', error: limited };
  }
  if (!live || !grant) return invalid();
  if (grant.clientId !== clientId) return { kind: 'refused', error: new InvalidGrant('The refresh token was issued to another client.') };

  if (presented.rotatedAt !== null) {
    if (graceClosed) return replay(deps, tx, grant, 'after_grace', origin);
    if (reused === undefined) return replay(deps, tx, grant, 'successor_rotated', origin);
  }
  const refused = check(grant);
  if (refused) return { kind: 'refused', error: refused };
  if (reused !== undefined) return { kind: 'issued', grant, refreshToken: reused, reused: true };

  const { value: successor, hash: successorHash } = await tx.refreshTokens.issue(grant.id, refreshTokenLifetime(config), successorValue(deps.sealer, value));
  if (!(await tx.refreshTokens.markRotated(presented.hash, successorHash))) {
    // Cannot happen under the row lock; throwing rolls the successor back.
    throw new Error('refresh token rotated twice inside one locked transaction');
  }
  const grantExpiry = grantExpiryAtRotation(config, grant.expiresAt, now);
  if (grantExpiry !== undefined) await tx.grants.extend(grant.id, grantExpiry);
  return { kind: 'issued', grant, refreshToken: successor, reused: false };
}

/** Rule 3: the successor's value, while it is live and unrotated and the window is open; else undefined. */
async function graceSuccessor(deps: RotationDeps, tx: Repositories, value: string, presented: RefreshToken, now: number): Promise<string | undefined> {
  if (presented.successorHash === null) return undefined;
  const successor = await tx.refreshTokens.findByHash(presented.successorHash);
  if (!successor || successor.rotatedAt !== null || successor.expiresAt <= now) return undefined;
  return successorAgain(deps.sealer, value, presented);
}

async function replay(deps: RotationDeps, tx: Repositories, grant: Grant, reason: 'after_grace' | 'successor_rotated', origin: { address?: string }): Promise<Decided> {
  // Returned, not thrown: a throw would roll the revocation back with the transaction.
  await tx.grants.revoke(grant.id);
  // In the same transaction: the revocation and its audit entries commit together (src/audit/audit-log.ts).
  const who = { did: grant.userDid, clientId: grant.clientId, wikiSlug: grant.wikiSlug, address: origin.address };
  const events: AuditEvent[] = [
    { event: 'refresh_replay_detected', ...who, actor: 'replay', detail: { reason } },
    { event: 'grant_revoked', ...who, actor: 'replay', detail: { reason: 'refresh_replay' } },
  ];
  const audit = [];
  for (const event of events) audit.push({ event, stored: deps.audit ? await deps.audit.insertIn(tx, event) : false });
  return { kind: 'replayed', grant, reason, audit };
}

/** Rule 3's end for rows rotated before successors were derived: drops their sealed successors once the grace window has closed (src/maintenance.ts). */
export function dropClosedGraceWindows(
  deps: { refreshTokens: Pick<Repositories['refreshTokens'], 'dropSealedSuccessors'>; config: Pick<RotationDeps['config'], 'refreshGraceSeconds'> },
  now = nowSeconds(),
): Promise<number> {
  return deps.refreshTokens.dropSealedSuccessors(graceWindowsClosedBefore(deps.config, now));
}
