// Every cookie this service sets, with its attributes and lifetime: the one place to read them.
// Rules (issue 9 finding 6; RFC 6265bis §4.1.3 cookie prefixes):
//  - Anything that can act (the apex session, the signup ticket, the sign-in binding, CSRF) is
//    HOST-ONLY on the apex: no Domain attribute, Path=/, and in production a `__Host-` name with
//    Secure, so no wiki host ({slug}.PLATFORM_DOMAIN) can set, overwrite or shadow it ("cookie tossing").
//  - Wikis get ONLY the identity cookie, on COOKIE_DOMAIN: a short-lived RS256 JWT that says who the
//    person is and carries no authority on the apex (src/accounts/identity-token.ts).
//  - Development over plain http cannot rely on Secure (a LAN host or 127.0.0.1 is not a secure
//    context everywhere), so it uses the same names without `__Host-` (documented dev fallback). On
//    top of that, a request naming an acting cookie twice is treated as carrying none of it: the
//    browser sends a planted Domain cookie first, and first-wins parsing would pick the attacker's.
import type { CookieOptions, Request, Response } from 'express';
import type { Config } from '../config/env.ts';
import { IDENTITY_TOKEN_TTL_SECONDS, sessionLifetime, SIGN_IN_BINDING_TTL_SECONDS, SIGNUP_TICKET_TTL_SECONDS } from '../lifetimes.ts';

/** The identity cookie's name (the wiki-facing contract: see the README, "For wiki apps"). */
export const IDENTITY_COOKIE = 'platform_identity';
/** The pre-split full-power cookie on COOKIE_DOMAIN: never read any more, cleared wherever we can. */
export const LEGACY_SESSION_COOKIE = 'platform_token';

type CookieConfig = Pick<Config, 'production' | 'cookieDomain' | 'sessionTtlSeconds'>;

export interface CookieNames {
  /** The apex session (random value; its SHA-256 is the sessions row id). */
  session: string;
  /** First sign-in: the single-use ticket that lets the person choose a username. */
  signup: string;
  /** Login CSRF: binds the ATProto callback to the browser that started the sign-in. */
  binding: string;
  /** csrf-csrf's double-submit cookie (src/web/csrf.ts). */
  csrf: string;
  identity: string;
}

export function cookieNames(config: Pick<Config, 'production'>): CookieNames {
  const hostOnly = (name: string) => (config.production ? `__Host-${name}` : name);
  return {
    session: hostOnly('session'),
    signup: hostOnly('signup_ticket'),
    binding: hostOnly('signin_binding'),
    csrf: hostOnly('csrf'),
    identity: IDENTITY_COOKIE,
  };
}

/** Attributes of every host-only apex cookie (no Domain: required by `__Host-`). */
export function hostOnlyCookieOptions(config: Pick<Config, 'production'>, maxAgeSeconds?: number): CookieOptions {
  return {
    httpOnly: true,
    secure: config.production,
    sameSite: 'lax',
    path: '/',
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds * 1000 }),
  };
}

/** The identity cookie: on COOKIE_DOMAIN so every wiki host receives it. */
export function identityCookieOptions(config: CookieConfig, maxAgeSeconds?: number): CookieOptions {
  return {
    ...hostOnlyCookieOptions(config, maxAgeSeconds),
    ...(config.cookieDomain ? { domain: config.cookieDomain } : {}),
  };
}

/** The value of an acting cookie, or undefined when absent or present more than once (a planted shadow). */
export function readHostCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header.length > 16_384) return undefined;
  let count = 0;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) count += 1;
  }
  const value: unknown = req.cookies?.[name];
  return count === 1 && typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function setSessionCookie(res: Response, config: CookieConfig, sessionSecret: string): void {
  res.cookie(cookieNames(config).session, sessionSecret, hostOnlyCookieOptions(config, sessionLifetime(config)));
  // Sessions from before the split lived in a Domain cookie; remove it from the browser.
  res.clearCookie(LEGACY_SESSION_COOKIE, identityCookieOptions(config));
}

export function setIdentityCookie(res: Response, config: CookieConfig, identityToken: string): void {
  res.cookie(IDENTITY_COOKIE, identityToken, identityCookieOptions(config, IDENTITY_TOKEN_TTL_SECONDS));
}

/** Sign-out and revocation: the apex session, the wikis' identity cookie and any pre-split cookie. */
export function clearSignInCookies(res: Response, config: CookieConfig): void {
  res.clearCookie(cookieNames(config).session, hostOnlyCookieOptions(config));
  res.clearCookie(IDENTITY_COOKIE, identityCookieOptions(config));
  res.clearCookie(LEGACY_SESSION_COOKIE, identityCookieOptions(config));
}

export function setSignupCookie(res: Response, config: CookieConfig, ticket: string): void {
  res.cookie(cookieNames(config).signup, ticket, hostOnlyCookieOptions(config, SIGNUP_TICKET_TTL_SECONDS));
}

export function clearSignupCookie(res: Response, config: CookieConfig): void {
  res.clearCookie(cookieNames(config).signup, hostOnlyCookieOptions(config));
}

export function setBindingCookie(res: Response, config: CookieConfig, binding: string): void {
  res.cookie(cookieNames(config).binding, binding, hostOnlyCookieOptions(config, SIGN_IN_BINDING_TTL_SECONDS));
}

export function clearBindingCookie(res: Response, config: CookieConfig): void {
  res.clearCookie(cookieNames(config).binding, hostOnlyCookieOptions(config));
}
