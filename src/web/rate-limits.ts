// Rate limits: whose budget each request spends (issue 10 item 5). Every window is one minute; a
// refused request gets 429 with Retry-After and RateLimit headers, in the endpoint's own error format.
//
// | endpoint                                            | key                                  | budget per minute                                  |
// |-----------------------------------------------------|--------------------------------------|----------------------------------------------------|
// | POST /token, refresh_token with a known token       | the grant the token belongs to       | RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE (60)       |
// |   …and a /token request whose credential checks out | the client (client_id)               | RATE_LIMIT_CLIENT_PER_MINUTE (6000)                |
// | POST /revoke that revokes a live token of the client| the client                           | RATE_LIMIT_CLIENT_PER_MINUTE                       |
// | POST /token, /revoke: anything else                 | the address                          | RATE_LIMIT_TOKEN_PER_MINUTE (600)                  |
// | /mcp, /auth/verify with a valid access token        | the grant (the token's grant_id)     | RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE (1200), each   |
// | /mcp, /auth/verify without one                      | the address                          | 10 × RATE_LIMIT_DISCOVERY_PER_MINUTE, each         |
// | POST /register (apex and wiki hosts)                | the address                          | RATE_LIMIT_REGISTER_PER_MINUTE (120)               |
// | AS metadata, JWKS, protected-resource metadata      | the address                          | RATE_LIMIT_DISCOVERY_PER_MINUTE (1200)             |
// | /authorize + /consent                               | the address                          | RATE_LIMIT_TOKEN_PER_MINUTE                        |
// | sign-in, callback, hand-off, signup                 | the address                          | RATE_LIMIT_LOGIN_PER_MINUTE (20)                   |
//
// - Addresses in RATE_LIMIT_TRUSTED_NETWORKS (e.g. Anthropic's egress range 160.79.104.0/21, from which
//   all of Claude.ai's server-side requests come) skip every address budget; client and grant budgets
//   still apply to them.
// - "Checks out" means the request proves possession: a code with its redirect URI and PKCE verifier,
//   a live refresh token (or a reuse within its grace window), a live token at /revoke. A public
//   client's client_id is no secret, and anyone can hold a dead token or a code of their own: every
//   other request spends its address's budget, never the client's (src/oauth/token/token-rate-limits.ts).
//   Nobody can spend Claude.ai's client budget by sending its client_id, nor spread over invented
//   client_ids to escape the address budget.
// - On the keyed endpoints the address budget is checked before any work and spent only by requests
//   that were not attributed to a client or grant.
// - The address is Express's req.ip: X-Forwarded-For counts only from TRUST_PROXY peers. An IPv6
//   address counts as its /56 (as express-rate-limit groups it): one host commonly holds a whole
//   /64 or more, and keying by the /128 would give it one fresh budget per address (`addressKey`).
// Counters live in memory, per process, per app: a restart resets them.
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import { rateLimit as expressRateLimit, ipKeyGenerator } from 'express-rate-limit';
import ipaddr from 'ipaddr.js';
import type { Config, TrustedNetwork } from '../config/env.ts';
import type { MaybePromise } from '../lib/maybe-promise.ts';
import { AppError } from './errors.ts';

const WINDOW_MS = 60_000;

type TrustedNetworks = Pick<Config, 'rateLimitTrustedNetworks'>;

/** Whether `address` lies in RATE_LIMIT_TRUSTED_NETWORKS (an IPv4-mapped IPv6 address counts as its IPv4 one). */
export function isTrustedAddress(networks: readonly TrustedNetwork[], address: string | undefined): boolean {
  if (networks.length === 0 || address === undefined || !ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return networks.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));
}

class TooManyRequests extends AppError {
  constructor(name: string, limit: number, retryAfterSeconds: number) {
    super(429, 'too_many_requests', 'Too many requests. Please wait a minute and try again.', {
      headers: {
        'Retry-After': String(retryAfterSeconds),
        RateLimit: `"${name}";r=0;t=${retryAfterSeconds}`,
        'RateLimit-Policy': `"${name}";q=${limit};w=${WINDOW_MS / 1000}`,
      },
      title: 'Slow down',
    });
  }
}

/** One named budget of `perMinute` requests per key per fixed one-minute window. */
export class Budget {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private nextSweep = 0;

  readonly name: string;
  readonly perMinute: number;
  private readonly now: () => number;

  constructor(name: string, perMinute: number, now: () => number = Date.now) {
    this.name = name;
    this.perMinute = perMinute;
    this.now = now;
  }

  private window(key: string): { count: number; resetAt: number } {
    const now = this.now();
    if (now >= this.nextSweep) {
      for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
      this.nextSweep = now + WINDOW_MS;
    }
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + WINDOW_MS };
      this.windows.set(key, w);
    }
    return w;
  }

  private refuse(w: { resetAt: number }): TooManyRequests {
    return new TooManyRequests(this.name, this.perMinute, Math.max(1, Math.ceil((w.resetAt - this.now()) / 1000)));
  }

  /** Throws 429 when `key` has nothing left, without spending. */
  check(key: string): void {
    const w = this.window(key);
    if (w.count >= this.perMinute) throw this.refuse(w);
  }

  /** Spends one request of `key`'s budget; throws 429 when it was already spent. */
  spend(key: string): void {
    const w = this.window(key);
    if (w.count >= this.perMinute) throw this.refuse(w);
    w.count++;
  }

  /** Counts one request against `key` after the fact (never throws). */
  record(key: string): void {
    this.window(key).count++;
  }

  /** Requests `key` may still make in its current window (nothing spent). */
  left(key: string): number {
    return this.perMinute - this.window(key).count;
  }

  /** Counts one request against `key` and returns its window: over budget once `count` > perMinute. */
  hit(key: string): { readonly count: number; readonly resetAt: number } {
    const w = this.window(key);
    w.count++;
    return w;
  }
}

/**
 * The address budget of a keyed endpoint: checked before the work, spent only by requests nobody
 * vouched for, skipped entirely for trusted networks.
 */
export class AddressGate {
  private readonly budget: Budget;
  private readonly config: TrustedNetworks;

  constructor(name: string, perMinute: number, config: TrustedNetworks) {
    this.budget = new Budget(name, perMinute);
    this.config = config;
  }

  private trusted(ip: string | undefined): boolean {
    return isTrustedAddress(this.config.rateLimitTrustedNetworks, ip);
  }

  /** Whether `ip` may still make a request (nothing spent): false once its budget is spent. */
  open(ip: string | undefined): boolean {
    return this.trusted(ip) || this.budget.left(addressKey(ip)) > 0;
  }

  /** Middleware, before any work: 429 when the request's address has spent its budget. */
  readonly check: RequestHandler = (req, _res, next) => {
    if (!this.trusted(req.ip)) this.budget.check(addressKey(req.ip));
    next();
  };

  /** Counts a request from `ip` that was not attributed to a client or grant. */
  spend(ip: string | undefined): void {
    if (!this.trusted(ip)) this.budget.record(addressKey(ip));
  }
}

// req.ip → its budget key (bounded: cleared when full, which at worst restarts a few windows).
const addressKeys = new Map<string, string>();

/** The budget key of an address: itself for IPv4, its /56 for IPv6 (express-rate-limit's rule). */
export function addressKey(ip: string | undefined): string {
  if (ip === undefined) return '';
  let key = addressKeys.get(ip);
  if (key === undefined) {
    if (addressKeys.size >= 10_000) addressKeys.clear();
    key = ipKeyGenerator(ip);
    addressKeys.set(ip, key);
  }
  return key;
}

/**
 * A per-address limit (the rows keyed by address above), lifted for RATE_LIMIT_TRUSTED_NETWORKS.
 * 429 carries Retry-After.
 */
export function rateLimit(name: string, perMinute: number, config: TrustedNetworks): RequestHandler {
  return expressRateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: name,
    skip: (req) => isTrustedAddress(config.rateLimitTrustedNetworks, req.ip),
    handler: (_req, res, next, options) => {
      const retryAfter = String(Math.ceil(options.windowMs / 1000));
      next(
        new AppError(429, 'too_many_requests', 'Too many requests. Please wait a minute and try again.', {
          headers: { 'Retry-After': res.getHeader('Retry-After')?.toString() ?? retryAfter },
          title: 'Slow down',
        }),
      );
    },
  });
}

/**
 * The per-address limit of discovery (AS metadata, OpenID configuration, JWKS, protected-resource
 * metadata): the same rule and the same headers as `rateLimit` above (express-rate-limit with
 * draft-8 headers: the address key, IPv6 grouped by /56, its partition key `pk`, `r` and `t` on
 * every answer, 429 with Retry-After past the budget), on the in-memory `Budget`. These are the
 * most frequent unauthenticated requests, and express-rate-limit's per-request work (a SHA-256 of
 * the key, several awaits) was 8–10% of one (docs/benchmarks.md, "Round 3").
 */
export function discoveryRateLimit(name: string, perMinute: number, config: TrustedNetworks): DiscoveryLimit {
  const budget = new Budget(name, perMinute);
  const policy = `"${name}"; q=${perMinute}; w=${WINDOW_MS / 1000}; pk=:`;
  // req.ip → its limiter key and that key's partition key (both fixed per address); bounded.
  const keys = new Map<string, { key: string; policy: string }>();
  const keyOf = (ip: string) => {
    let k = keys.get(ip);
    if (k === undefined) {
      if (keys.size >= 10_000) keys.clear();
      const key = addressKey(ip);
      k = { key, policy: `${policy}${partitionKey(key)}:` };
      keys.set(ip, k);
    }
    return k;
  };
  const headersOf = (w: { count: number; resetAt: number }, k: { policy: string }) => {
    const resetSeconds = Math.max(0, Math.ceil((w.resetAt - Date.now()) / 1000));
    return { rateLimit: `"${name}"; r=${Math.max(perMinute - w.count, 0)}; t=${resetSeconds}`, policy: k.policy, resetSeconds };
  };
  const middleware: RequestHandler = (req, res, next) => {
    const ip = req.ip ?? '';
    if (isTrustedAddress(config.rateLimitTrustedNetworks, ip)) return next();
    const k = keyOf(ip);
    const w = budget.hit(k.key);
    const h = headersOf(w, k);
    res.setHeader('RateLimit', h.rateLimit);
    res.setHeader('RateLimit-Policy', h.policy);
    if (w.count <= perMinute) return next();
    next(
      new AppError(429, 'too_many_requests', 'Too many requests. Please wait a minute and try again.', {
        headers: { 'Retry-After': String(h.resetSeconds) },
        title: 'Slow down',
      }),
    );
  };
  return Object.assign(middleware, {
    spendIfLeft(ip: string | undefined): readonly [string, string] | null | undefined {
      const address = ip ?? '';
      if (isTrustedAddress(config.rateLimitTrustedNetworks, address)) return null;
      const k = keyOf(address);
      if (budget.left(k.key) <= 0) return undefined;
      const h = headersOf(budget.hit(k.key), k);
      return [h.rateLimit, h.policy];
    },
  });
}

/** discoveryRateLimit's middleware, and the same budget for the light path (src/web/machine-endpoints.ts). */
export interface DiscoveryLimit extends RequestHandler {
  /**
   * Spends one request of `ip`'s budget and returns its [RateLimit, RateLimit-Policy] values, exactly
   * as the middleware sets them; null for a trusted address (nothing spent, no headers); undefined,
   * without spending, when the budget is already spent (the middleware then refuses the request).
   */
  spendIfLeft(ip: string | undefined): readonly [string, string] | null | undefined;
}

/** express-rate-limit's draft-8 partition key: the first 12 hex digits of SHA-256 of the key, base64. */
function partitionKey(key: string): string {
  return Buffer.from(crypto.createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
}

/** The budgets of an endpoint keyed by the access token's grant (/mcp, /auth/verify). */
export interface GrantKeyedLimits {
  address: AddressGate;
  grant: Budget;
  /**
   * Runs the bearer check: a caller it returns spends its grant's budget (429 when spent), a
   * request it refuses spends the budget of its address `ip` (Express's req.ip).
   */
  spendFor<T extends { grantId: string }>(ip: string | undefined, identify: () => MaybePromise<T>): MaybePromise<T>;
}

export function grantKeyedLimits(config: Pick<Config, 'keyedRateLimits' | 'rateLimits' | 'rateLimitTrustedNetworks'>, name: string): GrantKeyedLimits {
  const address = new AddressGate(name, config.rateLimits.discoveryPerMinute * 10, config);
  const grant = new Budget(`${name}-grant`, config.keyedRateLimits.mcpPerGrantPerMinute);
  return {
    address,
    grant,
    // Synchronous when `identify` is (the bearer check's usual answer): no await on every request.
    spendFor(ip, identify) {
      const refused = (err: unknown): never => {
        address.spend(ip);
        throw err;
      };
      const accepted = <T extends { grantId: string }>(caller: T): T => {
        grant.spend(caller.grantId);
        return caller;
      };
      let caller;
      try {
        caller = identify();
      } catch (err) {
        return refused(err);
      }
      return caller instanceof Promise ? caller.then(accepted, refused) : accepted(caller);
    },
  };
}
