// Every credential's lifetime rules, in one place: how long each thing the service issues or
// remembers lives, and how long it is kept after it stops working (so a replay is still recognised).
// The issuing handler, the repository that checks expiry and the purge (src/db/purge.ts,
// src/maintenance.ts) all read these; a lifetime is never written as a literal anywhere else.
// Rules that an operator may tune come from src/config/env.ts; they are read here through small
// functions so the rule and its reader stay one name. All values are seconds unless named otherwise.
//
// RFCs: OAuth 2.1 §4.1.2 (codes short-lived, single use), RFC 9700 §2.2.2 / §4.14 (refresh rotation,
// replay revokes the grant), RFC 7523 §3 (assertion exp, jti), RFC 7591 (registration), ATProto
// OAuth (state, sessions), RFC 6265bis (cookie Max-Age).
import type { Config } from './config/env.ts';

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ── Authorization endpoint ────────────────────────────────────────────────────────────────────

/** OAuth 2.1 §4.1.2: a code lives one minute (codes.repo.ts sets it; token endpoint refuses after). */
export const AUTHORIZATION_CODE_TTL_SECONDS = MINUTE;
/** RFC 6749 §10.5 / RFC 9700 §4.5: a consumed code is kept this long past expiry so a replay still revokes its grant (purge.ts). */
export const AUTHORIZATION_CODE_REPLAY_KEEP_SECONDS = HOUR;
/** A validated /authorize request waits this long for sign-in and consent (authorization-requests.repo.ts, purge.ts). */
export const AUTHORIZATION_REQUEST_TTL_SECONDS = 30 * MINUTE;

// ── Token endpoint: access and refresh tokens ────────────────────────────────────────────────

/** RFC 9068 `exp`: ACCESS_TOKEN_TTL_SECONDS (access-token.ts signs it; admin keys waits it out before dropping a key). */
export function accessTokenLifetime(config: Pick<Config, 'accessTokenTtlSeconds'>): number {
  return config.accessTokenTtlSeconds;
}

/** Clock skew allowed on an access token's `exp`, `nbf` and `iat` (access-token.ts). */
export const ACCESS_TOKEN_CLOCK_TOLERANCE_SECONDS = 30;

/**
 * RFC 7009 §2.2: an access token revoked on its own is remembered (revoked_access_tokens) until it
 * can no longer pass verification at all: its `exp` plus the clock tolerance (purge.ts drops it then).
 */
export function revokedAccessTokenKeptUntil(exp: number): number {
  return exp + ACCESS_TOKEN_CLOCK_TOLERANCE_SECONDS;
}

/**
 * RFC 9700 §4.14.2: REFRESH_TOKEN_TTL_SECONDS. Each refresh token expires this long after it is
 * issued, and each rotation extends the grant past now + this (never shortens it; grantExpiryAtRotation):
 * a grant used at least once per period lives on, an idle one expires (grants.repo.ts extend,
 * refresh-rotation.ts, the code grant). There is no absolute cap beyond that: revocation ends a grant.
 */
export function refreshTokenLifetime(config: Pick<Config, 'refreshTokenTtlSeconds'>): number {
  return config.refreshTokenTtlSeconds;
}

/**
 * The grant's sliding expiry at a rotation (refresh-rotation.ts rule 1): the grant must outlive its
 * newest refresh token (now + REFRESH_TOKEN_TTL_SECONDS). Its row is written only when it would not,
 * and then extended LAST_SEEN_RESOLUTION_SECONDS past the token, so that a client refreshing several
 * times a minute writes its grant at most once a minute, as a bearer check writes last_used_at. The
 * grant then lives at most that much longer than its newest token, which expires on its own.
 * undefined: nothing to write.
 */
export function grantExpiryAtRotation(config: Pick<Config, 'refreshTokenTtlSeconds'>, grantExpiresAt: number, now: number): number | undefined {
  const newestToken = now + refreshTokenLifetime(config);
  return grantExpiresAt >= newestToken ? undefined : newestToken + LAST_SEEN_RESOLUTION_SECONDS;
}

/**
 * Rotation grace (RFC 9700 §4.14.2, refresh-rotation.ts rule 3): a token rotated less than
 * REFRESH_GRACE_SECONDS ago may be presented once more and gets the same successor back; after
 * that, presenting it is a replay and revokes the grant.
 */
export function refreshGraceClosed(config: Pick<Config, 'refreshGraceSeconds'>, rotatedAt: number, now: number): boolean {
  return now - rotatedAt > config.refreshGraceSeconds;
}

/** The sealed successors of tokens rotated before this instant are past their grace window (refresh-rotation.ts, maintenance.ts). */
export function graceWindowsClosedBefore(config: Pick<Config, 'refreshGraceSeconds'>, now: number): number {
  return now - config.refreshGraceSeconds - 1;
}

/**
 * RFC 9700 §4.14.2 replay detection: rotated refresh tokens are kept this long so that presenting one
 * still revokes its grant (purge.ts); without a limit a grant refreshed hourly keeps ~720 rows in 30 days.
 */
export const ROTATED_REFRESH_KEEP_SECONDS = 7 * DAY;

/** Revoked browser sessions and grants are kept a day for the account page and the logs (purge.ts). */
export const REVOKED_KEEP_SECONDS = DAY;

/**
 * RFC 7009 / RFC 9068: a revoked access token's jti is remembered until the token's own exp
 * (revoked-access-tokens.repo.ts stores exp; purge.ts deletes after it). No constant: the token's exp.
 */

// ── Client authentication and registration ───────────────────────────────────────────────────

/** RFC 7523 §3: the longest a private_key_jwt assertion may live, exp − now (client-assertion.ts). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 5 * MINUTE;
/** Clock skew allowed on an assertion's exp, iat and nbf (client-assertion.ts). */
export const ASSERTION_CLOCK_SKEW_SECONDS = 30;
/** RFC 7523 §3 jti: a used jti is remembered until its assertion can no longer be accepted (client-assertion.ts; purge.ts after). */
export function assertionJtiKeptUntil(exp: number): number {
  return exp + ASSERTION_CLOCK_SKEW_SECONDS;
}

/**
 * RFC 7591 open registration (issue 9 finding 9): UNUSED_CLIENT_PURGE_SECONDS, default one hour.
 * A client that never obtained a token is deleted this long after it appeared (purge.ts), and the
 * registration cap's Retry-After names it (client-caps.ts).
 */
export function unusedClientPurgeAfter(config: Pick<Config, 'unusedClientPurgeSeconds'>): number {
  return config.unusedClientPurgeSeconds;
}
/** CLIENT_IDLE_PURGE_SECONDS: a client with no grant and no token for this long is deleted (purge.ts). */
export function idleClientPurgeAfter(config: Pick<Config, 'clientIdlePurgeSeconds'>): number {
  return config.clientIdlePurgeSeconds;
}

/** Client ID Metadata Documents: cached for their max-age (default one hour), bounded below and above (resolve-client.ts, client-jwks.ts). */
export const DEFAULT_DOCUMENT_TTL_SECONDS = HOUR;
export const MIN_DOCUMENT_TTL_SECONDS = MINUTE;
export const MAX_DOCUMENT_TTL_SECONDS = DAY;
/** How long a fetched document (or a client's JWKS) stays fresh: its max-age, or the default, within the bounds. */
export function documentTtlSeconds(maxAgeSeconds: number | undefined, defaultTtlSeconds: number): number {
  const wanted = maxAgeSeconds ?? defaultTtlSeconds;
  return Math.min(MAX_DOCUMENT_TTL_SECONDS, Math.max(MIN_DOCUMENT_TTL_SECONDS, wanted));
}
/** After a failed refetch, a stale document is served and not fetched again for this long (resolve-client.ts). */
export const DOCUMENT_RETRY_AFTER_FAILURE_SECONDS = MINUTE;
/** A client's JWKS is refetched on an unknown kid at most this often (client-jwks.ts). */
export const JWKS_MIN_REFETCH_SECONDS = MINUTE;

// ── People: sessions, tickets and the wikis' identity token ───────────────────────────────────

/** SESSION_TTL_SECONDS: the apex `__Host-session` cookie's Max-Age and its server-side row (session.ts, cookies.ts, sessions.repo.ts). */
export function sessionLifetime(config: Pick<Config, 'sessionTtlSeconds'>): number {
  return config.sessionTtlSeconds;
}
/**
 * A session's last_seen_at is written at most this often (sessions.repo.ts); a grant's last_used_at
 * likewise (check-bearer.ts), and a client's (clients.repo.ts markTokenIssued; its first token always).
 */
export const LAST_SEEN_RESOLUTION_SECONDS = MINUTE;
/** Whether a stored last-use time (null: none yet) is LAST_SEEN_RESOLUTION_SECONDS old, so due to be written again. */
export function lastSeenDue(stored: number | null, now: number): boolean {
  return stored === null || now - stored >= LAST_SEEN_RESOLUTION_SECONDS;
}

/** The wikis' identity token (RS256 JWT) and its cookie on COOKIE_DOMAIN; wikis re-check by exp (identity-token.ts, cookies.ts, admin keys). */
export const IDENTITY_TOKEN_TTL_SECONDS = 15 * MINUTE;
/** The signup ticket (a DID that has not chosen a username yet) and its cookie (complete-sign-in.ts, cookies.ts). */
export const SIGNUP_TICKET_TTL_SECONDS = 15 * MINUTE;
/** The sign-in binding cookie, tying the ATProto callback to the browser that started it (cookies.ts). */
export const SIGN_IN_BINDING_TTL_SECONDS = 30 * MINUTE;
/** The one-time handoff ticket from the ATProto callback to the page that finishes sign-in (atproto/routes.ts). */
export const HANDOFF_TICKET_TTL_SECONDS = 2 * MINUTE;

// ── ATProto client (we sign in to the person's PDS) ───────────────────────────────────────────

/** ATProto OAuth: an authorization state older than this is dead; the PDS's own request expires well before (atproto/stores.ts, purge.ts). */
export const ATPROTO_AUTH_STATE_TTL_SECONDS = HOUR;
/**
 * An ATProto session of a DID that never chose a username (its signup ticket lived 15 minutes) is of
 * no use after this (purge.ts); a user's own session lives as long as the PDS keeps it (sign-out revokes it).
 */
export const UNCLAIMED_ATPROTO_SESSION_SECONDS = DAY;
