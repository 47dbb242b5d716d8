// The platform key rows on PostgreSQL (issue 12): the same table, rules and sealing as on SQLite
// (src/config/key-source.ts says why and how; migrations/postgres/016-platform-keys.sql). The
// compare-and-replace is one transaction that takes a writers' lock on the version table, so two
// rotations from two machines at once give one winner and one KeySetChanged, never a mixed list.
// Instances notice a change by polling the version row (src/config/key-reload.ts), as on SQLite.
import type pg from 'pg';
import { inTransaction } from '../db/postgres/pool.ts';
import type { PlatformKeyRow, PlatformKeyRows } from './key-source.ts';

export function postgresKeyRows(pool: pg.Pool): PlatformKeyRows {
  return {
    async version() {
      const { rows } = await pool.query<{ version: string | number }>('SELECT version FROM platform_keys_version WHERE id = 1');
      return Number(rows[0]?.version ?? 0);
    },
    async list() {
      const { rows } = await pool.query<PlatformKeyRow>('SELECT kid, position, sealed_jwk FROM platform_keys ORDER BY position');
      return rows;
    },
    async replace(rows, expected, now) {
      // One transaction (inTransaction: COMMIT, or ROLLBACK on a throw). When the version moved,
      // nothing has been written and the COMMIT ends a transaction that only read.
      return inTransaction(pool, async (client) => {
        // Writers one at a time (readers are not blocked): the version row may not exist yet, so
        // `SELECT … FOR UPDATE` alone would not serialize the first two writers.
        await client.query('LOCK TABLE platform_keys_version IN SHARE ROW EXCLUSIVE MODE');
        const current = await client.query<{ version: string | number }>('SELECT version FROM platform_keys_version WHERE id = 1');
        if (expected !== undefined && Number(current.rows[0]?.version ?? 0) !== expected) return false;
        await client.query('DELETE FROM platform_keys');
        for (const row of rows) {
          await client.query('INSERT INTO platform_keys (kid, position, sealed_jwk, created_at) VALUES ($1, $2, $3, $4)', [row.kid, row.position, row.sealed_jwk, now]);
        }
        await client.query(
          'INSERT INTO platform_keys_version (id, version, updated_at) VALUES (1, 1, $1) ON CONFLICT (id) DO UPDATE SET version = platform_keys_version.version + 1, updated_at = EXCLUDED.updated_at',
          [now],
        );
        return true;
      });
    },
  };
}
