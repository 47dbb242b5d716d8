// Vitest globalSetup: one local PDS + PLC (test/pds/start.mjs) for the whole
// run, in a child process. Tests read the URLs with `inject('pdsUrl')` /
// `inject('plcUrl')`; env vars set here would not reach the workers.
//
// Why a child process: kill + `rm -rf` of its private TMPDIR is a complete
// cleanup (dev-env leaves SQLite files and port locks behind), and the PDS's
// event loop stays out of the test workers.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    pdsUrl: string
    plcUrl: string
  }
}

const START_SCRIPT = fileURLToPath(new URL('./start.mjs', import.meta.url))
const START_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 10_000

export interface PdsInfo {
  pdsUrl: string
  plcUrl: string
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tmpDir = await mkdtemp(join(tmpdir(), 'robot-auth-pds-'))
  const child = spawn(process.execPath, [START_SCRIPT], {
    env: { ...process.env, TMPDIR: tmpDir, PDS_STOP_ON_STDIN_EOF: '1' },
    // stdin stays open as a lifeline: if vitest dies, the child sees EOF and exits.
    stdio: ['pipe', 'pipe', 'pipe'],
  })

  const teardown = async (): Promise<void> => {
    await stopChild(child)
    await rm(tmpDir, { recursive: true, force: true })
  }

  try {
    const info = await waitForReady(child)
    project.provide('pdsUrl', info.pdsUrl)
    project.provide('plcUrl', info.plcUrl)
  } catch (err) {
    // Vitest does not call the teardown when setup throws.
    await teardown()
    throw err
  }
  return teardown
}

/** Resolves with the child's first stdout line (parsed), forwarding its stderr. Also used by test/production/. */
export function waitForReady(child: ChildProcess): Promise<PdsInfo> {
  const { stdout, stderr } = child
  if (!stdout || !stderr) throw new Error('PDS child was spawned without piped stdio')

  // Keep the tail of stderr for the error message, and show it live as well.
  let stderrTail = ''
  stderr.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk)
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000)
  })

  return new Promise<PdsInfo>((resolve, reject) => {
    const lines = createInterface({ input: stdout })
    let settled = false
    const finish = (err: Error | null, info?: PdsInfo): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.off('exit', onExit)
      child.off('error', onError)
      if (err) reject(err)
      else if (info) resolve(info)
    }
    const withStderr = (msg: string): Error =>
      new Error(stderrTail ? `${msg}\n--- PDS stderr ---\n${stderrTail}` : msg)

    const timer = setTimeout(
      () => finish(withStderr(`PDS did not start within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    )
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(withStderr(`PDS process exited before it was ready (code ${code}, signal ${signal})`))
    const onError = (err: Error): void => finish(withStderr(`Could not start PDS process: ${err.message}`))
    child.once('exit', onExit)
    child.once('error', onError)

    lines.on('line', (line) => {
      if (settled) {
        // Anything printed later is just log output; keep the pipe drained.
        process.stdout.write(`[pds] ${line}\n`)
        return
      }
      try {
        const parsed: unknown = JSON.parse(line)
        if (isPdsInfo(parsed)) finish(null, parsed)
        else finish(withStderr(`Unexpected first line from PDS process: ${line}`))
      } catch {
        finish(withStderr(`First line from PDS process is not JSON: ${line}`))
      }
    })
  })
}

function isPdsInfo(value: unknown): value is PdsInfo {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return typeof v.pdsUrl === 'string' && typeof v.plcUrl === 'string'
}

/** SIGTERM, wait for exit, SIGKILL if the PDS has not closed after STOP_TIMEOUT_MS. */
export async function stopChild(child: ChildProcess): Promise<void> {
  // No pid: spawn itself failed, there is nothing to stop.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS)
  })
  const late = await Promise.race([exited.then(() => false), timedOut])
  clearTimeout(timer)
  if (late) {
    process.stderr.write(`[pds] did not exit ${STOP_TIMEOUT_MS / 1000} s after SIGTERM; sending SIGKILL\n`)
    child.kill('SIGKILL')
    await exited
  }
}
