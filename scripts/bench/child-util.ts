// Shared by the bench children (server.ts, memory.ts): environment, listening, the IPC answer loop.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChildRequest, ChildResponse } from './protocol.ts';

/**
 * BENCH_PRAGMA (e.g. 'cache_size=-4000', several separated by ';'): pragmas run on the app's SQLite
 * connection, for an A/B of a setting (server.ts, profile-token.ts, edge-socket.ts). Nothing when unset.
 */
export function applyBenchPragmas(sqlite: { db: { pragma(source: string): unknown } } | undefined): void {
  const pragmas = process.env.BENCH_PRAGMA;
  if (!pragmas || !sqlite) return;
  for (const p of pragmas.split(';')) sqlite.db.pragma(p);
}

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** Listens on an ephemeral loopback port. */
export function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Answers each request from the runner with the handler's result (or its error). */
export function answerRequests(handle: (msg: ChildRequest) => Promise<unknown>): void {
  process.on('message', (raw) => {
    const msg = raw as ChildRequest;
    handle(msg).then(
      (result) => process.send?.({ id: msg.id, ok: true, result } satisfies ChildResponse),
      (err: unknown) =>
        process.send?.({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies ChildResponse),
    );
  });
  // The runner went away: do not linger.
  process.on('disconnect', () => process.exit(0));
}
