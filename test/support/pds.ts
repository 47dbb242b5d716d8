// Helpers for end-to-end tests against the local PDS started by
// test/pds/global-setup.ts: accounts, headless OAuth sign-in/consent, and a few
// account mutations (handle, profile).
//
// The PDS's sign-in UI API checks sec-fetch-* headers, and Node's fetch
// overwrites `sec-fetch-mode` with `cors`, so everything that plays the
// browser goes through `httpRequest` (node:http, headers sent verbatim).
import { randomBytes } from 'node:crypto'
import http, { type IncomingHttpHeaders } from 'node:http'
import https from 'node:https'

// ---------------------------------------------------------------------------
// Minimal HTTP client with a cookie jar
// ---------------------------------------------------------------------------

/**
 * Cookie name → value. Domain, path, Secure and SameSite are ignored (the PDS
 * marks its cookies Secure but runs on http), so use one jar per site, e.g. one
 * for the PDS and another for the app.
 */
export type CookieJar = Map<string, string>

export interface HttpRequestOptions {
  method?: string
  headers?: Record<string, string>
  /** Raw request body. */
  body?: string | Uint8Array
  /** JSON request body; sets content-type unless given in `headers`. */
  json?: unknown
  /** Sent as the Cookie header and updated from every Set-Cookie. */
  jar?: CookieJar
}

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** One HTTP(S) request; redirects are NOT followed (inspect `headers.location`). */
export function httpRequest(url: string | URL, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url)
  const headers: Record<string, string> = { ...opts.headers }
  const lowerNames = new Set(Object.keys(headers).map((h) => h.toLowerCase()))

  let body: string | Uint8Array | undefined = opts.body
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json)
    if (!lowerNames.has('content-type')) headers['content-type'] = 'application/json'
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
  if (opts.jar && opts.jar.size > 0 && !lowerNames.has('cookie')) {
    headers.cookie = [...opts.jar].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  const transport = target.protocol === 'https:' ? https : http
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = transport.request(target, { method: opts.method ?? 'GET', headers }, (res) => {
      if (opts.jar) updateJar(opts.jar, res.headers['set-cookie'])
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
    })
    req.on('error', reject)
    req.end(body)
  })
}

function updateJar(jar: CookieJar, setCookie: string[] | undefined): void {
  for (const line of setCookie ?? []) {
    const [pair = '', ...attrs] = line.split(';')
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    const name = pair.slice(0, eq).trim()
    const value = pair.slice(eq + 1).trim()
    // Honour deletions (Max-Age<=0 or an Expires in the past), e.g. on logout.
    const expired = attrs.some((attr) => {
      const [k = '', v = ''] = attr.split('=').map((s) => s.trim())
      if (k.toLowerCase() === 'max-age') return Number(v) <= 0
      if (k.toLowerCase() === 'expires') return Date.parse(v) <= Date.now()
      return false
    })
    if (expired) jar.delete(name)
    else jar.set(name, value)
  }
}

// ---------------------------------------------------------------------------
// Accounts and XRPC
// ---------------------------------------------------------------------------

export interface PdsAccount {
  handle: string
  did: string
  password: string
  accessJwt: string
}

/**
 * Creates a fresh account with a unique `<prefix><random>.test` handle.
 * The whole handle is kept ≤ 18 characters (the PDS limits the first label to
 * 18), so `handlePrefix` may be at most 7 letters/digits.
 */
export async function createPdsAccount(
  pdsUrl: string,
  opts: { handlePrefix?: string } = {},
): Promise<PdsAccount> {
  const prefix = (opts.handlePrefix ?? 'u').toLowerCase()
  if (!/^[a-z][a-z0-9]{0,6}$/.test(prefix)) {
    throw new Error(`handlePrefix must be 1-7 letters/digits starting with a letter, got "${prefix}"`)
  }
  const label = prefix + randomLabel(13 - prefix.length)
  const handle = `${label}.test`
  const password = randomBytes(12).toString('hex')
  const res = await xrpcPost<{ did: string; handle: string; accessJwt: string }>(
    pdsUrl,
    'com.atproto.server.createAccount',
    { handle, email: `${label}@example.com`, password },
  )
  return { handle: res.handle, did: res.did, password, accessJwt: res.accessJwt }
}

/** com.atproto.identity.updateHandle (the new handle must end in `.test`). */
export async function updateHandleAtPds(pdsUrl: string, accessJwt: string, newHandle: string): Promise<void> {
  await xrpcPost(pdsUrl, 'com.atproto.identity.updateHandle', { handle: newHandle }, accessJwt)
}

/** Writes `app.bsky.actor.profile/self` with the given display name. */
export async function putProfileAtPds(
  pdsUrl: string,
  did: string,
  accessJwt: string,
  displayName: string,
): Promise<{ uri: string; cid: string }> {
  return xrpcPost<{ uri: string; cid: string }>(
    pdsUrl,
    'com.atproto.repo.putRecord',
    {
      repo: did,
      collection: 'app.bsky.actor.profile',
      rkey: 'self',
      record: { $type: 'app.bsky.actor.profile', displayName },
    },
    accessJwt,
  )
}

// Lowercase base36, so it is a valid handle label character set.
function randomLabel(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('')
}

async function xrpcPost<T = unknown>(
  pdsUrl: string,
  nsid: string,
  input: unknown,
  accessJwt?: string,
): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (accessJwt) headers.authorization = `Bearer ${accessJwt}`
  const res = await fetch(new URL(`/xrpc/${nsid}`, pdsUrl), {
    method: 'POST',
    headers,
    body: JSON.stringify(input),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${nsid} failed: HTTP ${res.status} ${text}`)
  return (text ? JSON.parse(text) : undefined) as T
}

// ---------------------------------------------------------------------------
// Headless OAuth sign-in + consent
// ---------------------------------------------------------------------------

const UI_API = '/@atproto/oauth-provider/~api'

export interface ApproveOptions {
  /** Press "Deny access" instead of "Authorize" (after signing in). */
  deny?: boolean
  /**
   * Scope sent with the consent; the provider grants the intersection with the
   * requested scope and requires `atproto` in it. Default `'atproto'`.
   */
  scope?: string
}

/**
 * Plays the browser on the PDS's authorization page: loads `authorizeUrl`,
 * signs in as `account`, consents (or denies), and follows the PDS to the
 * final redirect. Returns that 303's Location, i.e. the client's redirect_uri
 * with `state`, `iss` and `code` (or `error=access_denied` when denied).
 * Nothing needs to listen on the redirect_uri. Uses a fresh cookie jar, so
 * every call is a new "device" (no SSO across calls).
 */
export async function approveAtPds(
  authorizeUrl: string,
  account: { handle: string; password: string },
  opts: ApproveOptions = {},
): Promise<string> {
  const origin = new URL(authorizeUrl).origin
  const jar: CookieJar = new Map()

  // 1. Top-level navigation to the authorize page: sets device + CSRF cookies.
  const page = await httpRequest(authorizeUrl, {
    jar,
    headers: {
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
      'sec-fetch-site': 'none',
    },
  })
  expectStatus('GET authorize page', page, 200)

  // 2-3. The page's own API calls. The provider checks that they come from the
  // authorize page (referer) of the same origin, with the double-submit CSRF token.
  const callApi = async (step: string, endpoint: string, json: unknown): Promise<HttpResponse> => {
    const csrf = jar.get('csrf-token')
    if (!csrf) throw new Error(`approveAtPds: no csrf-token cookie before ${step}`)
    const res = await httpRequest(`${origin}${UI_API}${endpoint}`, {
      method: 'POST',
      jar,
      json,
      headers: {
        origin,
        referer: authorizeUrl,
        'sec-fetch-mode': 'same-origin',
        'sec-fetch-site': 'same-origin',
        'x-csrf-token': csrf,
      },
    })
    expectStatus(step, res, 200)
    return res
  }

  const signIn = await callApi('sign-in', '/sign-in', {
    locale: 'en',
    username: account.handle,
    password: account.password,
    remember: true,
  })
  const did = parseJson<{ account?: { did?: string } }>('sign-in', signIn).account?.did
  if (!did) throw new Error(`approveAtPds: sign-in reply has no account.did: ${signIn.body}`)

  // Both return {url} pointing at /oauth/authorize/redirect; consent errors
  // (e.g. request already used) also come back as a 200 {url} carrying `error`.
  const decision = opts.deny
    ? await callApi('reject', '/reject', {})
    : await callApi('consent', '/consent', { did, scope: opts.scope ?? 'atproto' })
  const redirectUrl = parseJson<{ url?: string }>(opts.deny ? 'reject' : 'consent', decision).url
  if (!redirectUrl) throw new Error(`approveAtPds: decision reply has no url: ${decision.body}`)

  // 4. The page navigates to that URL; the provider answers with a 303 to the client.
  const final = await httpRequest(redirectUrl, {
    jar,
    headers: {
      referer: authorizeUrl,
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
      'sec-fetch-site': 'same-origin',
    },
  })
  expectStatus('GET authorize/redirect', final, 303)
  const location = final.headers.location
  if (!location) throw new Error('approveAtPds: 303 from authorize/redirect has no Location header')

  if (!opts.deny && !new URL(location).searchParams.has('code')) {
    throw new Error(`approveAtPds: consent did not produce a code, redirect is ${location}`)
  }
  return location
}

function expectStatus(step: string, res: HttpResponse, expected: number): void {
  if (res.status !== expected) {
    throw new Error(
      `approveAtPds: ${step} returned HTTP ${res.status} (expected ${expected}): ${res.body.slice(0, 2000)}`,
    )
  }
}

function parseJson<T>(step: string, res: HttpResponse): T {
  try {
    return JSON.parse(res.body) as T
  } catch {
    throw new Error(`approveAtPds: ${step} reply is not JSON: ${res.body.slice(0, 2000)}`)
  }
}
