// `npm run admin -- doctor [--wiki SLUG] [--json] …`: builds what the checks look at from the
// service's configuration and the options, runs them (run.ts), prints (print.ts). Exit 1 on any fail.
import fs from 'node:fs';
import type { Config } from '../../config/env.ts';
import type { Db } from '../../db/open.ts';
import { pendingPostgresMigrations } from '../../db/postgres/migrate.ts';
import type { Command, CommandContext, OptionSpec, OptionValues } from '../commands.ts';
import { UsageError } from '../errors.ts';
import { DEFAULT_CHATGPT_DOCUMENT, DEFAULT_CLAUDE_DOCUMENT } from './checks/client-documents.ts';
import { formatJson, formatText } from './print.ts';
import { exitStatus, runDoctor } from './run.ts';
import type { DoctorPostgres, DoctorTarget } from './types.ts';

export const DEFAULT_PDS = 'https://bsky.social';
/** Where docs/operations.md's nightly timer writes; used when it exists and no --backup-dir is given. */
export const DEFAULT_BACKUP_DIR = '/var/backups/robot-auth';

const options: Record<string, OptionSpec> = {
  wiki: { type: 'string', value: 'SLUG', description: 'the wiki whose host, PRM and /mcp are checked (default: the oldest wiki)' },
  pds: { type: 'string', value: 'URL', description: `a PDS to compare the clock with (default ${DEFAULT_PDS})` },
  app: { type: 'string', value: 'URL', description: "the app's own address, as Caddy reaches it (default http://HOST:PORT, HOST 127.0.0.1 when unset)" },
  'claude-document': { type: 'string', value: 'URL', description: `Claude.ai's client metadata document (default ${DEFAULT_CLAUDE_DOCUMENT})` },
  'chatgpt-document': { type: 'string', value: 'URL', description: `ChatGPT's client metadata document (default ${DEFAULT_CHATGPT_DOCUMENT})` },
  'backup-dir': { type: 'string', value: 'DIR', description: `where backups are written (default ${DEFAULT_BACKUP_DIR} if it exists)` },
  'backup-max-age-days': { type: 'string', value: 'N', description: 'warn when the newest backup is older (default 2)' },
  'key-max-age-days': { type: 'string', value: 'N', description: 'warn when the signing key is older: the rotation policy (default 90)' },
  'tls-warn-days': { type: 'string', value: 'N', description: 'warn when a certificate expires within N days (default 14; Caddy renews 30 days ahead)' },
  timeout: { type: 'string', value: 'MS', description: 'deadline of each request (default 5000); a check gets twice that' },
  json: { type: 'boolean', description: 'print {ok, checks: [{name, title, status, seen, advice, ms}]}' },
};

function positiveNumber(values: OptionValues, name: string, fallback: number): number {
  const raw = values[name];
  if (typeof raw !== 'string') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

function httpsUrl(values: OptionValues, name: string, fallback: string, schemes = ['https:']): string {
  const raw = values[name];
  if (typeof raw !== 'string') return fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--${name} must be a URL, got "${raw}"`);
  }
  if (!schemes.includes(url.protocol)) throw new UsageError(`--${name} must be ${schemes.join(' or ')}, got "${raw}"`);
  return raw;
}

function defaultAppUrl(config: Pick<Config, 'host' | 'port'>): string {
  const host = config.host === undefined || config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
}

/** The oldest wiki, or undefined when there is none or no database here. */
async function oldestWiki(ctx: Pick<CommandContext, 'store'>): Promise<string | undefined> {
  try {
    return await (await ctx.store({ allowPendingMigrations: true })).repos.operator.firstWikiSlug();
  } catch {
    return undefined;
  }
}

/** DATABASE_URL's database for the checks (src/admin/database.ts opens it on first use). */
function doctorPostgres(ctx: Pick<CommandContext, 'store' | 'postgres' | 'keyRows'>): DoctorPostgres | undefined {
  const postgres = ctx.postgres();
  if (!postgres) return undefined;
  return {
    database: postgres.database,
    store: () => ctx.store({ allowPendingMigrations: true }),
    pendingMigrations: async () => (await pendingPostgresMigrations(await postgres.pool())).map((m) => m.name),
    keyRows: () => ctx.keyRows(),
    keysUpdatedAt: async () => {
      const { rows } = await (await postgres.pool()).query<{ updated_at: number }>('SELECT updated_at FROM platform_keys_version WHERE id = 1');
      return rows[0] === undefined ? undefined : Number(rows[0].updated_at);
    },
  };
}

export async function doctorTarget(config: Config, values: OptionValues, db: () => Db, ctx: Pick<CommandContext, 'store' | 'postgres' | 'keyRows'>): Promise<DoctorTarget> {
  const wiki = typeof values.wiki === 'string' ? values.wiki.toLowerCase() : await oldestWiki(ctx);
  if (wiki !== undefined && !/^[a-z0-9-]{1,63}$/.test(wiki)) throw new UsageError(`--wiki must be a wiki slug, got "${wiki}"`);
  const backupDir = typeof values['backup-dir'] === 'string' ? values['backup-dir'] : fs.existsSync(DEFAULT_BACKUP_DIR) ? DEFAULT_BACKUP_DIR : undefined;
  return {
    publicUrl: config.publicUrl,
    wikiSlug: wiki,
    appUrl: httpsUrl(values, 'app', defaultAppUrl(config), ['http:', 'https:']).replace(/\/$/, ''),
    pdsUrl: httpsUrl(values, 'pds', DEFAULT_PDS, ['https:', 'http:']),
    documents: [
      { client: 'Claude.ai', url: httpsUrl(values, 'claude-document', DEFAULT_CLAUDE_DOCUMENT) },
      { client: 'ChatGPT', url: httpsUrl(values, 'chatgpt-document', DEFAULT_CHATGPT_DOCUMENT) },
    ],
    // The service's own policy (src/context.ts): what it may reach, it reaches here the same way.
    outboundPolicy: { allowPrivateAddresses: !config.production, privateHosts: config.outboundPrivateHosts },
    clientIdMetadataDocuments: config.clientIdMetadataDocuments,
    platformKeysFile: config.platformKeysFile,
    platformKeysKek: config.platformKeysKek,
    atprotoClientKeysFile: config.atprotoClientKeysFile,
    databaseFile: config.databaseFile,
    db,
    postgres: doctorPostgres(ctx),
    backupDirs: backupDir === undefined ? [] : [backupDir],
    backupMaxAgeDays: positiveNumber(values, 'backup-max-age-days', 2),
    keyMaxAgeDays: positiveNumber(values, 'key-max-age-days', 90),
    tlsWarnDays: positiveNumber(values, 'tls-warn-days', 14),
    timeoutMs: positiveNumber(values, 'timeout', 5000),
    now: () => Date.now(),
  };
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check a running deployment from outside, as clients see it (DNS, TLS, metadata, proxy, clock, documents, database, backups, keys)',
  details: [
    'One line per check: ok, warn, fail (with what to do under it) or skip (a check it depends on failed).',
    'Run it on the service machine as the service user with its --env-file: it reads the key files and the database.',
    'Exit status 1 when any check fails.',
  ].join('\n'),
  options,
  async run({ values }, ctx: CommandContext) {
    const config = ctx.config();
    const target = await doctorTarget(config, values, () => ctx.db({ allowPendingMigrations: true }), ctx);
    const results = await runDoctor(target);
    ctx.out(values.json === true ? formatJson(results) : formatText(results));
    return exitStatus(results);
  },
};
