// Messages between the bench runner (parent) and a bench child (server.ts, memory.ts) over the
// Node IPC channel. Every request carries an id; the child answers with the same id.

export interface AccessTokenForWiki {
  token: string;
  /** The wiki host the token is for (its audience's host). */
  host: string;
}

export interface LoopBaseline {
  ops: number;
  seconds: number;
  opsPerSecond: number;
  meanMs: number;
  /** Filled in by the runner: CPU time of the child (all threads) per op, µs. */
  cpuUsPerOp?: number;
  foreignCores?: number;
}

export type ChildRequest =
  /** `count` fresh refresh tokens (distinct grants where possible) as ready /token request bodies. */
  | { id: number; type: 'refresh-pool'; count: number }
  /** `count` fresh authorization codes (S256 challenge of BENCH_CODE_VERIFIER) as ready /token request bodies. */
  | { id: number; type: 'code-pool'; count: number }
  /** `count` access tokens for grants spread over the database. */
  | { id: number; type: 'access-tokens'; count: number }
  /** Signs the same access token as /token does, one at a time, for `seconds`. */
  | { id: number; type: 'sign-baseline'; seconds: number }
  /** The same, each signature followed by one write transaction (an insert): SQLite on a scratch file, PostgreSQL in a scratch table. */
  | { id: number; type: 'sign-write-baseline'; seconds: number }
  | { id: number; type: 'memory' }
  /**
   * Before each measured run (SQLite): copies the WAL that the pools, the warm-up and the case before
   * left into the database file (a RESTART checkpoint), so that no run pays for another's writes.
   */
  | { id: number; type: 'settle' }
  /** Outermost SQLite write transactions the app has made so far (src/db/instrument.ts). */
  | { id: number; type: 'sqlite-writes' }
  /** V8 CPU profile of this process from now on (--profile). */
  | { id: number; type: 'profile-start' }
  /** Stops the profile and writes it to `file`. */
  | { id: number; type: 'profile-stop'; file: string }
  | { id: number; type: 'exit' };

export type ChildRequestBody = ChildRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export type ChildResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface ReadyMessage {
  type: 'ready';
  appPort: number;
  barePort: number;
  /** The app's store (ctx.store.dialect); the peer leaves it out. */
  store?: 'sqlite' | 'postgres';
}

/** A fixed PKCE verifier (RFC 7636 §4.1: 43–128 unreserved characters). */
export const BENCH_CODE_VERIFIER = 'bench-code-verifier-0123456789-abcdefghijklmnopqrstuvwxyz';

/** What a settle did: the checkpoint's time and frames (null on PostgreSQL, where there is no WAL file to copy). */
export type SettleResult = { ms: number; frames: number; busy: boolean } | null;
