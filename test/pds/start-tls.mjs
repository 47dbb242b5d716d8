// The local PDS + PLC (as test/pds/start.mjs) as the production suite needs them: behind TLS on
// public-looking names, so that their OAuth issuer and DID-document endpoints are https URLs a
// production client accepts. Started by test/production/stack.ts with:
//   PDS_PUBLIC_URL  https://pds.probe.internal:PORT  (the PDS's issuer; PORT is served here over TLS)
//   PLC_PUBLIC_URL  https://plc.probe.internal:PORT
//   TLS_CERT_FILE / TLS_KEY_FILE  a certificate for both names (from the suite's test CA)
// and, in the same process, `--import test/production/pin-hosts.mjs` plus NODE_EXTRA_CA_CERTS, so
// that the PDS can fetch the app's client metadata from https://auth.probe.internal:PORT.
//
// Each TLS listener is a plain reverse proxy to the dev-env http port on localhost.
// Protocol: prints one JSON line `{"pdsUrl","plcUrl","pdsLocalUrl"}` once ready (pdsLocalUrl is the
// PDS's own http port, for creating test accounts only), then stays alive until SIGTERM/SIGINT or
// stdin EOF. The data dir goes to $TMPDIR, which the parent removes.
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { TestNetworkNoAppView } from '@atproto/dev-env'

function required(name) {
  const value = process.env[name]
  if (!value) throw new Error(`start-tls.mjs: ${name} is required`)
  return value
}

const pdsPublic = new URL(required('PDS_PUBLIC_URL'))
const plcPublic = new URL(required('PLC_PUBLIC_URL'))
const tlsOptions = { cert: fs.readFileSync(required('TLS_CERT_FILE')), key: fs.readFileSync(required('TLS_KEY_FILE')) }

// The PDS derives its public URL (its OAuth issuer, the endpoint in the DID documents it writes)
// as `https://${hostname}`, so the hostname carries the port; the service DID does not.
const net = await TestNetworkNoAppView.create({
  pds: { hostname: pdsPublic.host, serviceDid: `did:web:${pdsPublic.hostname}` },
})

function tlsProxy(publicUrl, targetPort) {
  const server = https.createServer(tlsOptions, (req, res) => {
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end(`start-tls proxy: ${err.message}`)
    })
    req.pipe(upstream)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(publicUrl.port), '127.0.0.1', () => resolve(server))
  })
}

const servers = await Promise.all([tlsProxy(pdsPublic, net.pds.port), tlsProxy(plcPublic, new URL(net.plc.url).port)])

let closing = false
async function shutdown() {
  if (closing) return
  closing = true
  try {
    for (const server of servers) server.closeAllConnections()
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    await net.close()
    process.exit(0)
  } catch (err) {
    console.error('[pds-tls] error while closing the test network:', err)
    process.exit(1)
  }
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.stdin.on('end', shutdown)
process.stdin.resume()

process.stdout.write(
  JSON.stringify({ pdsUrl: pdsPublic.origin, plcUrl: plcPublic.origin, pdsLocalUrl: net.pds.url }) + '\n',
)
