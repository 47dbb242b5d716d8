// PostgreSQL advisory locks (issue 12): the one list of lock names this service takes, and how a
// name becomes the 64-bit key pg_advisory_*lock wants. Transaction-scoped locks
// (pg_advisory_xact_lock) are released by COMMIT or ROLLBACK, so a crashed instance cannot leave
// one behind: its connection ends and the server releases it.
import { createHash } from 'node:crypto';
import type pg from 'pg';

export const LOCKS = {
  /** Held by each migration's transaction: instances starting together migrate once (src/db/postgres/migrate.ts). */
  migrations: 'robot-auth:migrations',
  /** Held by `admin migrate-to-postgres`'s copy transaction: two copies into one database cannot interleave. */
  copyFromSqlite: 'robot-auth:migrate-to-postgres',
  /** Held by a transaction that creates a wiki: the per-person and daily caps are checked and applied one at a time (src/storage/store.ts wikis.lockCreation). */
  wikiCreation: 'robot-auth:wiki-creation',
  /** Held by a transaction that checks a client cap and then registers or caches a client (src/storage/store.ts clients.lockCaps). */
  clientCaps: 'robot-auth:client-caps',
  /** Prefix of the ATProto client's request locks, one per name it asks for (src/storage/postgres/atproto-lock.ts). */
  atprotoRequestPrefix: 'robot-auth:atproto-request:',
} as const;

/** A stable signed 64-bit key for a lock name (the first 8 bytes of its SHA-256), as a decimal string. */
export function lockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}

/** Waits for the transaction-scoped lock `name`; call inside BEGIN … COMMIT on the same client. */
export async function lockForTransaction(client: Pick<pg.PoolClient, 'query'>, name: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(name)]);
}
