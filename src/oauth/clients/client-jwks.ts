// RFC 7591 §2 jwks_uri, RFC 7517 §5, RFC 9700 §4.15 — the public keys of a private_key_jwt client,
// fetched from its jwks_uri through the SSRF-safe fetch and cached like metadata documents: fresh for
// the response's max-age within [60 s, 24 h] (default 1 h), served stale when a refetch fails, and
// refetched early only when an assertion names a key we do not have, at most once a minute per URL.
import { nowSeconds } from '../../db/open.ts';
import type { PublicJwk } from './client.ts';
import { cacheControlMaxAge } from './client-metadata-document.ts';
import { DEFAULT_DOCUMENT_TTL_SECONDS, documentTtlSeconds, JWKS_MIN_REFETCH_SECONDS } from '../../lifetimes.ts';
import { safeFetch, type SafeFetchOptions } from '../../lib/outbound/safe-fetch.ts';

export class ClientJwksError extends Error {
  override name = 'ClientJwksError';
}

export interface JsonWebKeySet {
  keys: PublicJwk[];
}

/** Members of a private or symmetric key: such keys are dropped from a published set. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_KEYS = 20;

/**
 * The one place a JWKS is fetched (branch `ssrf` may move safeFetch: change only this function).
 * Returns the public RSA and EC keys of the set and the response's max-age.
 */
export async function fetchJwks(url: URL, options: SafeFetchOptions): Promise<{ jwks: JsonWebKeySet; maxAgeSeconds: number | undefined }> {
  const fetched = await safeFetch(url, options);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fetched.body.toString('utf8'));
  } catch {
    throw new ClientJwksError('the JWKS is not JSON');
  }
  const keys = typeof parsed === 'object' && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new ClientJwksError('the JWKS has no "keys" list');
  const usable = keys
    .filter((k): k is Record<string, unknown> => typeof k === 'object' && k !== null && !Array.isArray(k))
    .filter((k) => (k.kty === 'RSA' || k.kty === 'EC') && !PRIVATE_JWK_MEMBERS.some((m) => m in k))
    .slice(0, MAX_KEYS) as unknown as PublicJwk[];
  return { jwks: { keys: usable }, maxAgeSeconds: cacheControlMaxAge(fetched.cacheControl) };
}

export interface ClientJwksOptions {
  fetchOptions: SafeFetchOptions;
  /** Default lifetime without a max-age. Default 1 h. */
  ttlSeconds?: number;
  /** Least time between two fetches of one URL outside its normal expiry. Default 60 s. */
  minRefetchSeconds?: number;
  /** Most URLs cached at once (the oldest is dropped). Default 1000. */
  maxEntries?: number;
}

export interface ClientJwks {
  /**
   * The key set at `jwksUri`. `refetch`: the caller met an unknown kid; fetch again unless this URL
   * was fetched less than minRefetchSeconds ago.
   */
  keysFor(jwksUri: string, refetch?: boolean): Promise<JsonWebKeySet>;
}

interface Entry {
  jwks: JsonWebKeySet;
  staleAt: number;
  attemptedAt: number;
}

export function createClientJwks(options: ClientJwksOptions): ClientJwks {
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_DOCUMENT_TTL_SECONDS;
  const minRefetchSeconds = options.minRefetchSeconds ?? JWKS_MIN_REFETCH_SECONDS;
  const maxEntries = options.maxEntries ?? 1000;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<JsonWebKeySet>>();

  async function load(jwksUri: string, previous: Entry | undefined): Promise<JsonWebKeySet> {
    const now = nowSeconds();
    try {
      const { jwks, maxAgeSeconds } = await fetchJwks(new URL(jwksUri), options.fetchOptions);
      cache.delete(jwksUri);
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
      cache.set(jwksUri, { jwks, staleAt: now + documentTtlSeconds(maxAgeSeconds, ttlSeconds), attemptedAt: now });
      return jwks;
    } catch (err) {
      // Stale on error: a key that verified yesterday still identifies the client today.
      if (previous) {
        previous.attemptedAt = now;
        return previous.jwks;
      }
      throw err instanceof ClientJwksError ? err : new ClientJwksError(err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  return {
    keysFor(jwksUri, refetch = false) {
      const entry = cache.get(jwksUri);
      const now = nowSeconds();
      if (entry) {
        const fresh = entry.staleAt > now;
        const recentlyTried = entry.attemptedAt + minRefetchSeconds > now;
        if ((fresh && !refetch) || recentlyTried) return Promise.resolve(entry.jwks);
      }
      const pending = inFlight.get(jwksUri);
      if (pending) return pending;
      const started = load(jwksUri, entry).finally(() => inFlight.delete(jwksUri));
      inFlight.set(jwksUri, started);
      return started;
    },
  };
}
