// The admin commands for PostgreSQL (issue 12):
//  - `migrate`: applies pending migrations to the configured database: PostgreSQL when DATABASE_URL
//    is set (under the advisory lock, src/db/postgres/migrate.ts), else the SQLite file, backed up
//    first exactly as at start-up (src/db/backup.ts migrateWithBackup).
//  - `migrate-to-postgres [--to URL | --to-env NAME]` (default target DATABASE_URL): copies the SQLite database into an empty PostgreSQL database and
//    verifies it (src/admin/migrate-to-postgres.ts); exit status 1 on any mismatch.
//  - `postgresStatus`: the migration state of DATABASE_URL's database, for `status`.
// DATABASE_URL's database is the command's one pool (ctx.postgres(), src/admin/database.ts), which
// its Store shares; only migrate-to-postgres's target opens its own (the same rules).
import type pg from 'pg';
import { migrateWithBackup } from '../db/backup.ts';
import { redactUrl } from '../db/postgres/pool.ts';
import { appliedPostgresMigrations, pendingPostgresMigrations } from '../db/postgres/migrate.ts';
import { migratePostgres } from '../db/postgres/migrate.ts';
import { adminPostgres, type AdminPostgres } from './database.ts';
import type { Command, CommandContext, OptionValues } from './commands.ts';
import { AdminError } from './errors.ts';
import { formatTable, toJsonRecord } from './format.ts';
import { migrateToPostgres, type TableCheck } from './migrate-to-postgres.ts';

/** A pool on a database other than DATABASE_URL's (migrate-to-postgres --to), for one command; adminPostgres's rules. */
async function withPostgres<T>(url: string, use: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const postgres = adminPostgres(url);
  try {
    return await use(await postgres.pool());
  } finally {
    await postgres.close();
  }
}

/** The migration state of DATABASE_URL's database (undefined when unset), on the command's pool. */
export async function postgresStatus(postgres: AdminPostgres | undefined): Promise<{ database: string; applied: string[]; pending: string[] } | undefined> {
  if (postgres === undefined) return undefined;
  const pool = await postgres.pool();
  return {
    database: postgres.database,
    applied: await appliedPostgresMigrations(pool),
    pending: (await pendingPostgresMigrations(pool)).map((m) => m.name),
  };
}

const json = { type: 'boolean', description: 'print JSON (snake_case keys) for scripts' } as const;

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'apply pending schema migrations to the configured database (PostgreSQL when DATABASE_URL is set, else SQLite, backed up first)',
  options: { json },
  run: async ({ values }, ctx) => {
    const config = ctx.config();
    let result: { database: string; applied: string[]; backup?: string | undefined };
    const postgres = ctx.postgres();
    if (postgres !== undefined) {
      result = { database: postgres.database, applied: await migratePostgres(await postgres.pool()) };
    } else {
      const outcome = await migrateWithBackup(ctx.db({ allowPendingMigrations: true }), { file: config.databaseFile });
      result = { database: config.databaseFile, applied: outcome.applied, backup: outcome.backup };
    }
    if (values.json === true) {
      ctx.out(JSON.stringify(toJsonRecord(result), null, 2));
      return;
    }
    ctx.out(
      result.applied.length === 0
        ? `${result.database}: up to date, nothing to apply.`
        : `${result.database}: applied ${result.applied.join(', ')}${result.backup ? ` (backup first: ${result.backup})` : ''}.`,
    );
  },
};

/**
 * The copy's target: --to URL, else the environment variable --to-env names, else DATABASE_URL (the
 * environment or the env file). The environment keeps a password out of `ps` and shell history.
 */
function targetUrl(values: OptionValues, ctx: CommandContext): string {
  let url: string | undefined;
  let from: string;
  if (typeof values.to === 'string') {
    if (typeof values['to-env'] === 'string') throw new AdminError('Give --to or --to-env, not both.');
    url = values.to;
    from = '--to';
  } else if (typeof values['to-env'] === 'string') {
    const name = values['to-env'];
    url = ctx.env(name);
    from = `the environment variable ${name} (--to-env)`;
    if (url === undefined || url === '') throw new AdminError(`--to-env ${name}: the environment variable ${name} is not set. Export it first (e.g. \`read -rs ${name}; export ${name}\`).`);
  } else {
    url = ctx.config().databaseUrl;
    from = 'DATABASE_URL';
    if (url === undefined) throw new AdminError('Name the PostgreSQL database: set DATABASE_URL (or --to-env NAME) to its postgres:// URL, or give --to URL.');
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new AdminError(`${from} must be a postgres:// or postgresql:// URL.`);
  return url;
}

export const migrateToPostgresCommand: Command = {
  name: 'migrate-to-postgres',
  summary: 'copy the SQLite database into an empty PostgreSQL database, then verify row counts and checksums',
  details: [
    'Holds the SQLite file\'s (DATABASE_FILE) write lock from its snapshot to the end of the check, so nothing',
    'written after the snapshot can be lost: a service still running waits, and past its 5 s busy timeout',
    'answers 503 + Retry-After. Stop the service first. Applies the PostgreSQL migrations to the target and',
    'copies every table in ONE transaction: on any error nothing is copied. Refuses a target that holds rows',
    'or tables of its own. Then compares each table of the live file (row count, checksum) with PostgreSQL',
    'and exits 1 on any difference. The target is --to URL, --to-env NAME, or DATABASE_URL: prefer the',
    'environment, a password on the command line shows in ps and shell history. docs/operations.md',
    '("PostgreSQL") has the cut-over steps. --verify-only compares again without copying (and holds no lock).',
  ].join('\n'),
  options: {
    to: { type: 'string', value: 'URL', description: 'the empty PostgreSQL database: postgres://user@host:5432/db (a password here shows in ps and shell history: prefer --to-env)' },
    'to-env': { type: 'string', value: 'NAME', description: 'read the target URL from environment variable NAME (default without --to: DATABASE_URL)' },
    'verify-only': { type: 'boolean', description: 'do not copy; compare the SQLite database with an earlier copy' },
    'batch-size': { type: 'string', value: 'N', description: 'rows per INSERT (default 500)' },
    json,
  },
  run: async ({ values }, ctx) => {
    const url = targetUrl(values, ctx);
    const batch = values['batch-size'];
    const batchSize = typeof batch === 'string' ? Number(batch) : undefined;
    if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize <= 0)) throw new AdminError('--batch-size must be a positive integer.');
    const config = ctx.config();
    const db = ctx.db({ allowPendingMigrations: true });
    const result = await withPostgres(url, (pool) =>
      migrateToPostgres({ db, databaseFile: config.databaseFile, pool }, { verifyOnly: values['verify-only'] === true, ...(batchSize ? { batchSize } : {}) }),
    );
    if (values.json === true) {
      ctx.out(JSON.stringify({ ...toJsonRecord(result), checks: result.checks.map(toJsonRecord), copied: result.copied.map(toJsonRecord) }, null, 2));
    } else {
      const lines: string[] = [];
      if (result.migrationsApplied.length > 0) lines.push(`PostgreSQL migrations applied: ${result.migrationsApplied.join(', ')}`);
      if (result.copied.length > 0) {
        lines.push(
          `copied ${result.copied.reduce((n, t) => n + t.rows, 0)} rows from ${config.databaseFile} to ${redactUrl(url)} in one transaction; ` +
            "writes to the SQLite file were held from the snapshot to the end of the check below (a running service's writes waited, past 5 s they answered 503 + Retry-After)",
        );
      }
      lines.push(
        formatTable<TableCheck>(result.checks, [
          { header: 'TABLE', value: (c) => c.table },
          { header: 'SQLITE ROWS', value: (c) => c.sqliteRows },
          { header: 'POSTGRES ROWS', value: (c) => c.postgresRows },
          { header: 'SQLITE CHECKSUM', value: (c) => c.sqliteChecksum },
          { header: 'POSTGRES CHECKSUM', value: (c) => c.postgresChecksum },
          { header: 'OK', value: (c) => (c.ok ? 'ok' : 'MISMATCH') },
        ]),
      );
      lines.push(
        result.ok
          ? 'verified: every table has the same rows on both sides.'
          : `MISMATCH in ${result.checks.filter((c) => !c.ok).map((c) => c.table).join(', ')}: do not switch to PostgreSQL. ` +
              'If the service wrote after the snapshot, stop it, drop and re-create the PostgreSQL database and copy again.',
      );
      ctx.out(lines.join('\n'));
    }
    return result.ok ? 0 : 1;
  },
};
