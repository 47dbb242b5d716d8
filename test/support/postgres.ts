// A real PostgreSQL server for tests: Debian's `postgresql` package (`.ci/run` installs it),
// started in a temporary directory on a free loopback port, as the `postgres` user when the
// tests run as root (the server refuses to run as root). One server per call; each test file
// that needs one starts its own (about a second) or shares one through `createDatabase`.
//
// Settings are for tests only: fsync off, trust authentication on 127.0.0.1 and a private
// unix-socket directory. Nothing here is how an operator runs PostgreSQL.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'

const PG_ROOT = '/usr/lib/postgresql'

export interface TestPostgres {
  /** Connection URL of the `postgres` database, e.g. postgres://postgres@127.0.0.1:PORT/postgres */
  url: string
  port: number
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>
  /** SIGKILL-free shutdown (fast mode) and removal of the data directory. */
  stop(): Promise<void>
}

/** The newest installed server's bin directory, or undefined when PostgreSQL is not installed. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length > 0 ? join(PG_ROOT, versions[0]!, 'bin') : undefined
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Runs as `postgres` when we are root, as ourselves otherwise. */
function asServerUser(bin: string, args: string[]): { command: string; args: string[] } {
  if (userInfo().uid !== 0) return { command: bin, args }
  return { command: 'runuser', args: ['-u', 'postgres', '--', bin, ...args] }
}

/**
 * `settings`: server settings that replace the test ones below or add to them (the bench,
 * scripts/bench/postgres.ts, turns durability back on).
 */
export async function startPostgres(options: { settings?: Record<string, string> } = {}): Promise<TestPostgres> {
  const binDir = postgresBinDir()
  if (!binDir) {
    throw new Error('PostgreSQL is not installed: apt-get install postgresql (.ci/run does this)')
  }
  const dir = mkdtempSync(join(tmpdir(), 'robot-auth-pg-'))
  const dataDir = join(dir, 'data')
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const initdb = asServerUser(join(binDir, 'initdb'), [
    '-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync',
  ])
  execFileSync(initdb.command, initdb.args, { stdio: 'pipe' })

  const port = await freePort()
  const server = asServerUser(join(binDir, 'postgres'), [
    '-D', dataDir,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', `unix_socket_directories=${dir}`,
    ...Object.entries({ fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200', ...options.settings }).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ])
  const child = spawn(server.command, server.args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderrTail = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000)
  })

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  try {
    await waitForReady(binDir, port, child, () => stderrTail)
  } catch (err) {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw err
  }

  let counter = 0
  return {
    url,
    port,
    async createDatabase(name?: string): Promise<string> {
      const db = name ?? `test_${process.pid}_${Date.now()}_${counter++}`
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(db)) throw new Error(`bad database name: ${db}`)
      execFileSync(join(binDir, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-q', '-c', `CREATE DATABASE ${db}`], { stdio: 'pipe' })
      return `postgres://postgres@127.0.0.1:${port}/${db}`
    },
    async stop(): Promise<void> {
      await stopChild(child, dataDir)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function waitForReady(binDir: string, port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}):\n${stderr()}`)
    try {
      execFileSync(join(binDir, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-q'], { stdio: 'ignore' })
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  throw new Error(`postgres did not become ready within 30 s:\n${stderr()}`)
}

async function stopChild(child: ChildProcess, dataDir: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // SIGINT to the postmaster itself is PostgreSQL's "fast" shutdown; runuser does not forward
  // signals, so the pid comes from postmaster.pid.
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGINT')
  else child.kill('SIGINT')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}
