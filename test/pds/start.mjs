// Runs Bluesky's reference PDS + PLC (from @atproto/dev-env) in its own process
// for the test run. Started by test/pds/global-setup.ts; usable by hand too:
//   TMPDIR=$(mktemp -d) node test/pds/start.mjs
//
// Protocol: prints exactly one JSON line `{"pdsUrl","plcUrl"}` on stdout once
// ready, then stays alive until SIGTERM/SIGINT. The data dir and port-lock
// files land in $TMPDIR and are not removed by net.close(), so the parent gives
// us a private TMPDIR and deletes it afterwards.
//
// With PDS_STOP_ON_STDIN_EOF=1 the process also shuts down when stdin closes,
// so the PDS does not outlive a parent that was killed without running its
// teardown (stdin EOF is the one signal that always reaches us).
import { TestNetworkNoAppView } from '@atproto/dev-env'

const net = await TestNetworkNoAppView.create({})

let closing = false
async function shutdown() {
  if (closing) return
  closing = true
  try {
    await net.close()
    process.exit(0)
  } catch (err) {
    console.error('[pds] error while closing the test network:', err)
    process.exit(1)
  }
}

process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
if (process.env.PDS_STOP_ON_STDIN_EOF === '1') {
  process.stdin.on('end', shutdown)
  process.stdin.resume()
}

process.stdout.write(
  JSON.stringify({ pdsUrl: net.pds.url, plcUrl: net.plc.url }) + '\n',
)
