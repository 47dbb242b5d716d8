// Shared by the bench children (server.ts, memory.ts): environment, listening, the IPC answer loop.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChildRequest, ChildResponse } from './protocol.ts';

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
