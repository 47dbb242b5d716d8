// Smoke test for the PDS test helpers, driven by a real ATProto OAuth client
// (the same library the app uses) against the PDS from test/pds/global-setup.ts.
import {
  NodeOAuthClient,
  OAuthCallbackError,
  buildAtprotoLoopbackClientMetadata,
  requestLocalLock,
  type NodeSavedSession,
  type NodeSavedState,
} from '@atproto/oauth-client-node'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import {
  approveAtPds,
  createPdsAccount,
  httpRequest,
  putProfileAtPds,
  updateHandleAtPds,
  type PdsAccount,
} from './pds.ts'

const pdsUrl = inject('pdsUrl')
const plcUrl = inject('plcUrl')

// Nothing listens here: the headless flow only reads the redirect's Location.
const REDIRECT_URI = 'http://127.0.0.1:47999/auth/callback'

function memoryStore<V>() {
  const map = new Map<string, V>()
  return {
    async get(key: string) {
      return map.get(key)
    },
    async set(key: string, value: V) {
      map.set(key, value)
    },
    async del(key: string) {
      map.delete(key)
    },
  }
}

function makeClient(): NodeOAuthClient {
  return new NodeOAuthClient({
    clientMetadata: buildAtprotoLoopbackClientMetadata({
      scope: 'atproto',
      redirect_uris: [REDIRECT_URI],
    }),
    handleResolver: pdsUrl,
    plcDirectoryUrl: plcUrl,
    allowHttp: true,
    stateStore: memoryStore<NodeSavedState>(),
    sessionStore: memoryStore<NodeSavedSession>(),
    requestLock: requestLocalLock,
  })
}

describe('local PDS helpers', () => {
  let account: PdsAccount
  let client: NodeOAuthClient

  beforeAll(async () => {
    account = await createPdsAccount(pdsUrl)
    client = makeClient()
  })

  it('creates accounts with unique short .test handles', async () => {
    expect(account.handle).toMatch(/^u[a-z0-9]+\.test$/)
    expect(account.handle.length).toBeLessThanOrEqual(18)
    expect(account.did).toMatch(/^did:plc:/)

    const other = await createPdsAccount(pdsUrl, { handlePrefix: 'bob' })
    expect(other.handle).toMatch(/^bob[a-z0-9]+\.test$/)
    expect(other.did).not.toBe(account.did)
  })

  it('approves an OAuth request headlessly', async () => {
    const authorizeUrl = await client.authorize(account.handle, { scope: 'atproto' })
    const location = await approveAtPds(authorizeUrl.href, account)

    const redirect = new URL(location)
    expect(`${redirect.origin}${redirect.pathname}`).toBe(REDIRECT_URI)
    expect(redirect.searchParams.get('iss')).toBe(new URL(pdsUrl).origin)

    const { session } = await client.callback(redirect.searchParams)
    expect(session.did).toBe(account.did)
    // The tokens really work against the PDS.
    const res = await session.fetchHandler('/xrpc/com.atproto.server.getSession')
    expect(res.status).toBe(200)
  })

  it('denies an OAuth request headlessly', async () => {
    const authorizeUrl = await client.authorize(account.handle, { scope: 'atproto' })
    const location = await approveAtPds(authorizeUrl.href, account, { deny: true })

    const redirect = new URL(location)
    expect(`${redirect.origin}${redirect.pathname}`).toBe(REDIRECT_URI)
    expect(redirect.searchParams.get('error')).toBe('access_denied')
    expect(redirect.searchParams.has('code')).toBe(false)
    await expect(client.callback(redirect.searchParams)).rejects.toBeInstanceOf(OAuthCallbackError)
  })

  it('reports PDS errors with the response body', async () => {
    const authorizeUrl = await client.authorize(account.handle, { scope: 'atproto' })
    await expect(
      approveAtPds(authorizeUrl.href, { handle: account.handle, password: 'wrong-password' }),
    ).rejects.toThrow(/sign-in returned HTTP 4\d\d/)
  })

  it('updates the handle and the profile', async () => {
    const acct = await createPdsAccount(pdsUrl, { handlePrefix: 'ren' })
    const newHandle = `n${acct.handle}`
    await updateHandleAtPds(pdsUrl, acct.accessJwt, newHandle)
    const resolved = await httpRequest(
      `${pdsUrl}/xrpc/com.atproto.identity.resolveHandle?handle=${newHandle}`,
    )
    expect(resolved.status).toBe(200)
    expect(JSON.parse(resolved.body)).toEqual({ did: acct.did })

    const { uri } = await putProfileAtPds(pdsUrl, acct.did, acct.accessJwt, 'Robot Renamed')
    expect(uri).toBe(`at://${acct.did}/app.bsky.actor.profile/self`)
    const record = await httpRequest(
      `${pdsUrl}/xrpc/com.atproto.repo.getRecord?repo=${acct.did}&collection=app.bsky.actor.profile&rkey=self`,
    )
    expect(JSON.parse(record.body)).toMatchObject({ value: { displayName: 'Robot Renamed' } })
  })
})
