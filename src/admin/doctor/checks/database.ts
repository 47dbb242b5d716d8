// The service's SQLite database: PRAGMA quick_check (the B-tree and page checks of integrity_check
// without the slow index cross-check; `backup verify` runs the full one on a copy) and the
// migrations this code would still apply (the service applies them at start-up, so pending ones
// mean the deployed code runs without a restart). With DATABASE_URL set: PostgreSQL answers (the
// Store's ping, as /healthz) and has no pending migration.
import { pendingMigrations, readMigrations } from '../../../db/migrate.ts';
import type { Check, CheckOutcome, DoctorPostgres } from '../types.ts';

async function postgresCheck(postgres: DoctorPostgres): Promise<CheckOutcome> {
  let pending: string[];
  try {
    await (await postgres.store()).ping();
    pending = await postgres.pendingMigrations();
  } catch (err) {
    return {
      status: 'fail',
      seen: `PostgreSQL at ${postgres.database} does not answer: ${(err as Error).message}`,
      advice: 'check that the server is running and reachable from this host, the URL (user, password, database) and pg_hba.conf',
    };
  }
  if (pending.length > 0) {
    return {
      status: 'fail',
      seen: `${postgres.database}: reachable; pending migrations: ${pending.join(', ')}`,
      advice: 'the code was updated but the schema not: `npm run admin -- migrate`, or restart the service (it migrates at start-up)',
    };
  }
  return { status: 'ok', seen: `${postgres.database}: reachable (PostgreSQL), no pending migration` };
}

export const databaseCheck: Check = {
  name: 'database',
  title: 'database integrity and pending migrations',
  async run(target) {
    if (target.postgres) return postgresCheck(target.postgres);
    let db;
    try {
      db = target.db();
    } catch (err) {
      return { status: 'fail', seen: (err as Error).message, advice: 'run doctor on the service machine, as the service user, with its --env-file' };
    }
    const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (problems.length > 0) {
      return {
        status: 'fail',
        seen: `${target.databaseFile}: quick_check found ${problems.length} problem(s): ${problems.slice(0, 3).join('; ')}`,
        advice: 'stop the service and restore the latest good backup (docs/operations.md, Restore)',
      };
    }
    const pending = pendingMigrations(db, readMigrations()).map((m) => m.name);
    if (pending.length > 0) {
      return {
        status: 'fail',
        seen: `quick_check ok; pending migrations: ${pending.join(', ')}`,
        advice: 'the code was updated but the service not restarted: systemctl restart robot-auth (it backs up, then migrates)',
      };
    }
    return { status: 'ok', seen: `${target.databaseFile}: quick_check ok, no pending migration` };
  },
};
