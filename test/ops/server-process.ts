// The real service as a child process (`node src/server.ts`), as systemd runs it: for the tests
// that need signals, kill -9 and restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER = path.join(ROOT, 'src/server.ts');
export const CLI = path.join(ROOT, 'src/admin/cli.ts');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  dataDir: string;
  port: number;
  logLevel?: string;
  env?: Record<string, string>;
  /** Node options before the script, e.g. `--import` preloads (the production suite pins DNS names). */
  nodeArgs?: string[];
}

/** Starts the server and resolves once it listens (it prints `robot-auth is listening on …`). */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), SERVER], {
    // The data directory as working directory: no developer .env is picked up.
    cwd: options.dataDir,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(options.port),
      DATA_DIR: options.dataDir,
      LOG_LEVEL: options.logLevel ?? 'silent',
      // Tests start many servers at once: none of them takes the shared metrics port unless asked to.
      METRICS_PORT: 'off',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const server: ServerProcess = { child, url: `http://localhost:${options.port}`, stdout: () => out, stderr: () => err, exited };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 15 s\n${err}`)), 15_000);
    const check = () => {
      if (out.includes('robot-auth is listening')) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\n${err}`));
    });
  });
  return server;
}

/** Waits for the exit, failing after `ms`. */
export async function exitWithin(server: ServerProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`server still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([server.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a server a test left running (SIGKILL: nothing to wait for). */
export async function stopServer(server: ServerProcess | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGKILL');
  await server.exited;
}
