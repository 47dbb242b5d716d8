// "Sign in with Bluesky": start an ATProto OAuth authorization for what the person typed, and turn
// the PDS's callback into a verified identity. Returns data; routes.ts does the HTTP.
import type { NodeOAuthClient, OAuthSession } from '@atproto/oauth-client-node';
import { AppError } from '../web/errors.ts';
import type { Store } from '../storage/store.ts';
import { ATPROTO_SCOPE, type AtprotoClient } from './client.ts';
import { dnsLabels } from '../lib/dns-name.ts';

/** What we keep, server-side, with the ATProto authorization state. */
export interface SignInState {
  /** Where to go once signed in (already checked by safeReturnTo). */
  returnTo: string | undefined;
  /** SHA-256 of the random value in the browser's sign-in binding cookie (login CSRF defence). */
  bindingHash: string;
}

export interface AtprotoIdentity {
  did: string;
  /** Verified both ways (DID document ↔ handle), or 'handle.invalid'. */
  handle: string;
  displayName: string | null;
}

export class SignInFailed extends AppError {
  constructor(message: string, cause?: unknown) {
    super(400, 'sign_in_failed', message, { cause, title: 'Sign-in failed' });
  }
}

/** A handle (ATProto handle syntax): a DNS name of two or more labels, the last one starting with a letter. */
function isHandle(name: string): boolean {
  const labels = dnsLabels(name);
  return labels !== undefined && labels.length >= 2 && /^[a-z]/.test(labels[labels.length - 1] ?? '');
}
const DID = /^did:[a-z]+:[a-zA-Z0-9._:%-]{1,2000}$/;

/**
 * Accepts `alice.bsky.social`, `@alice.bsky.social`, a DID, or a PDS/entryway URL.
 * Returns the normalised identifier, or undefined when it is none of these.
 */
export function normaliseLoginInput(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const input = raw.trim();
  if (input.length === 0 || input.length > 2048) return undefined;
  if (/^https?:\/\//i.test(input)) {
    try {
      const url = new URL(input);
      return url.username || url.password ? undefined : url.origin;
    } catch {
      return undefined;
    }
  }
  if (input.startsWith('did:')) return DID.test(input) ? input : undefined;
  const handle = input.replace(/^@/, '').toLowerCase();
  return isHandle(handle) ? handle : undefined;
}

export async function startSignIn(
  deps: { atproto: AtprotoClient; store: Pick<Store, 'repos'> },
  identifier: string,
  state: SignInState,
): Promise<URL> {
  const client = await deps.atproto.get();
  // Unique per attempt (bindingHash is random), so it names this attempt's stored state.
  const appState = JSON.stringify(state);
  const authorize = async () => {
    try {
      return await client.authorize(identifier, { scope: ATPROTO_SCOPE, state: appState, signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      // The library saves the authorization state before its PAR request and keeps it when the
      // request fails: a refused sign-in must leave nothing behind.
      await deps.store.repos.atprotoStates.forgetByAppState(appState);
      throw err;
    }
  };
  try {
    return await authorize();
  } catch (err) {
    // The client caches DID documents for an hour: right after a handle change the cached document
    // still names the old handle, and the bidirectional check refuses the new one. Resolving afresh
    // refreshes the cache; then try once more.
    const refreshed =
      !identifier.startsWith('http') &&
      (await client.identityResolver.resolve(identifier, { noCache: true, signal: AbortSignal.timeout(10_000) }).then(
        () => true,
        () => false,
      ));
    if (!refreshed) throw couldNotStart(identifier, err);
    try {
      return await authorize();
    } catch (retryErr) {
      throw couldNotStart(identifier, retryErr);
    }
  }
}

function couldNotStart(identifier: string, cause: unknown): SignInFailed {
  return new SignInFailed(
    identifier.startsWith('http')
      ? `We could not reach a sign-in server at ${identifier}. Check the address and try again.`
      : `We could not find "${identifier}". Check the spelling of your handle (for example alice.bsky.social) and try again.`,
    cause,
  );
}

export type CallbackOutcome =
  | { kind: 'signed-in'; identity: AtprotoIdentity; state: SignInState }
  | { kind: 'cancelled'; state: SignInState | undefined };

/** Completes the ATProto authorization; throws SignInFailed for replayed, expired or forged callbacks. */
export async function finishSignIn(client: NodeOAuthClient, params: URLSearchParams): Promise<CallbackOutcome> {
  // The library is loaded by now (the client exists), so this import costs nothing.
  const { OAuthCallbackError } = await import('@atproto/oauth-client-node');
  let session: OAuthSession;
  let rawState: string | null;
  try {
    ({ session, state: rawState } = await client.callback(params));
  } catch (err) {
    // RFC 6749 §4.1.2.1: the person said no at their PDS. The library has verified `state` by now.
    if (err instanceof OAuthCallbackError && err.params.get('error') === 'access_denied' && err.state !== undefined) {
      return { kind: 'cancelled', state: parseState(err.state) };
    }
    throw new SignInFailed('This sign-in link is invalid, expired or was already used. Please sign in again.', err);
  }
  const state = parseState(rawState);
  if (!state) throw new SignInFailed('This sign-in link is invalid. Please sign in again.');
  return { kind: 'signed-in', identity: await loadIdentity(client, session), state };
}

/** The DID is verified by the OAuth flow; the handle is re-resolved fresh (not cached) on every sign-in. */
async function loadIdentity(client: NodeOAuthClient, session: OAuthSession): Promise<AtprotoIdentity> {
  const did = session.did;
  let handle = 'handle.invalid';
  try {
    handle = (await client.identityResolver.resolve(did, { noCache: true, signal: AbortSignal.timeout(10_000) })).handle;
  } catch {
    // Keep 'handle.invalid': the DID alone still identifies the person.
  }
  return { did, handle, displayName: await readDisplayName(session) };
}

async function readDisplayName(session: OAuthSession): Promise<string | null> {
  try {
    const query = new URLSearchParams({ repo: session.did, collection: 'app.bsky.actor.profile', rkey: 'self' });
    const res = await session.fetchHandler(`/xrpc/com.atproto.repo.getRecord?${query}`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return null;
    const body = (await res.json()) as { value?: { displayName?: unknown } };
    const name = body.value?.displayName;
    return typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, 200) : null;
  } catch {
    return null;
  }
}

function parseState(raw: string | null | undefined): SignInState | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<SignInState>;
    if (typeof v.bindingHash !== 'string') return undefined;
    return { bindingHash: v.bindingHash, returnTo: typeof v.returnTo === 'string' ? v.returnTo : undefined };
  } catch {
    return undefined;
  }
}
