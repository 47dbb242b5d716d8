// The operator commands: one entry per command, with its help text, its options and what it prints.
// The work itself lives in the functions it calls (users.ts, wikis.ts, keys.ts, db/backup.ts, …),
// which the tests call directly.
import fs from 'node:fs';
import type { Config } from '../config/env.ts';
import { backupDatabase, verifyBackup } from '../db/backup.ts';
import { pendingMigrations, readMigrations } from '../db/migrate.ts';
import { nowSeconds, type Db } from '../db/open.ts';
import { adminPurge } from './purge.ts';
import { listClients, type ClientSummary } from './clients.ts';
import type { AdminPostgres, OpenAdminDatabaseOptions } from './database.ts';
import type { PlatformKeyRows } from '../config/key-source.ts';
import type { Store } from '../storage/store.ts';
import { AdminError } from './errors.ts';
import { formatTable, isoTime, shortTime, toJsonRecord, type Column } from './format.ts';
import type { SigningAlg } from '../config/keys.ts';
import { addIdentityKey, generateProductionKeys, importKeysToDatabase, keyStoreOf, listStoredKeys, retireStoredKeys, rotatePlatformKeys, type KeyStatus } from './keys.ts';
import { listUsers, revokeGrants, revokeSessions, type UserSummary } from './users.ts';
import { createWiki, listWikis, type WikiSummary } from './wikis.ts';
import { doctorCommand } from './doctor/command.ts';
import { auditCommand, recordAdminActions } from './audit.ts';
import { migrateCommand, migrateToPostgresCommand, postgresStatus } from './postgres.ts';
import { listDeletedUsers, listDeletedWikis, type DeletedUser, type DeletedWiki } from './deletions.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in help for a string option. */
  value?: string;
  description: string;
  required?: boolean;
}

export type OptionValues = Record<string, string | boolean | undefined>;

/** What a command may use; the configuration and the database are opened on first use. */
export interface CommandContext {
  out(text: string): void;
  config(): Config;
  /** The SQLite connection (DATABASE_FILE): only for what is SQLite by nature (backup, the migration's source, file checks). */
  db(options?: OpenAdminDatabaseOptions): Db;
  /** DATABASE_URL's database (undefined when unset): its pool, opened on first use. */
  postgres(): AdminPostgres | undefined;
  /** The Store of the configured database (PostgreSQL with DATABASE_URL, else SQLite), opened on first use. */
  store(options?: OpenAdminDatabaseOptions): Promise<Store>;
  /** The platform key rows (PLATFORM_KEYS_KEK) of the configured database. */
  keyRows(): Promise<PlatformKeyRows>;
  /** One variable of the process environment (a secret a command must not take on its command line). */
  env(name: string): string | undefined;
}

export interface Command {
  /** One or two words: `users list`, `purge`. */
  name: string;
  /** Positional arguments, e.g. `FILE` (shown in help; their count is enforced). */
  args?: string[];
  summary: string;
  details?: string;
  options: Record<string, OptionSpec>;
  /** Returns the exit status (0 when nothing is returned). */
  run(input: { values: OptionValues; args: string[] }, ctx: CommandContext): Promise<number | void> | number | void;
}

const json: OptionSpec = { type: 'boolean', description: 'print JSON (snake_case keys, ISO 8601 times) for scripts' };
const user = (description: string): OptionSpec => ({ type: 'string', value: 'USER', description, required: true });

function printJson(ctx: CommandContext, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}

function printRows<T extends object>(ctx: CommandContext, values: OptionValues, rows: T[], columns: Column<T>[], empty: string): void {
  if (values.json === true) printJson(ctx, rows.map(toJsonRecord));
  else ctx.out(rows.length === 0 ? empty : formatTable(rows, columns));
}

const userColumns: Column<UserSummary>[] = [
  { header: 'USERNAME', value: (u) => u.username },
  { header: 'DID', value: (u) => u.did },
  { header: 'HANDLE', value: (u) => u.handle },
  { header: 'WIKIS', value: (u) => u.wikis },
  { header: 'SESSIONS', value: (u) => u.liveSessions },
  { header: 'GRANTS', value: (u) => u.liveGrants },
  { header: 'CREATED', value: (u) => shortTime(u.createdAt) },
  { header: 'LAST LOGIN', value: (u) => shortTime(u.lastLoginAt) },
];

const wikiColumns: Column<WikiSummary>[] = [
  { header: 'SLUG', value: (w) => w.slug },
  { header: 'OWNER', value: (w) => w.ownerUsername },
  { header: 'GRANTS', value: (w) => w.liveGrants },
  { header: 'CREATED', value: (w) => shortTime(w.createdAt) },
  { header: 'MCP URL', value: (w) => w.mcpUrl },
];

const deletedWikiColumns: Column<DeletedWiki>[] = [
  { header: 'SLUG', value: (w) => w.slug },
  { header: 'OWNER', value: (w) => w.ownerUsername },
  { header: 'OWNER DID', value: (w) => w.ownerDid },
  { header: 'WHY', value: (w) => (w.reason === 'owner' ? 'deleted by owner' : 'account deleted') },
  { header: 'GRANTS REVOKED', value: (w) => w.grantsRevoked },
  { header: 'DELETED', value: (w) => shortTime(w.deletedAt) },
];

const deletedUserColumns: Column<DeletedUser>[] = [
  { header: 'USERNAME', value: (u) => u.username },
  { header: 'DID', value: (u) => u.did },
  { header: 'WIKIS', value: (u) => u.wikis },
  { header: 'PDS REVOKED', value: (u) => (u.pdsRevoked ? 'yes' : 'no') },
  { header: 'DELETED', value: (u) => shortTime(u.deletedAt) },
];

const clientColumns: Column<ClientSummary>[] = [
  { header: 'CLIENT ID', value: (c) => c.clientId },
  { header: 'KIND', value: (c) => (c.kind === 'registered' ? 'registered' : 'document') },
  { header: 'NAME', value: (c) => c.clientName },
  { header: 'AUTH', value: (c) => c.tokenEndpointAuthMethod },
  { header: 'GRANTS', value: (c) => c.liveGrants },
  { header: 'CREATED', value: (c) => shortTime(c.createdAt) },
  { header: 'FIRST TOKEN', value: (c) => shortTime(c.firstTokenAt) },
  { header: 'LAST USED', value: (c) => shortTime(c.lastUsedAt) },
];

const keyColumns: Column<KeyStatus>[] = [
  { header: 'KID', value: (k) => k.kid },
  { header: 'ALG', value: (k) => k.alg },
  { header: 'PURPOSE', value: (k) => k.purpose },
  { header: 'ROLE', value: (k) => k.role },
  { header: 'RETIRE AFTER', value: (k) => shortTime(k.retireAfter) },
];

/** `--alg`: RS256 or ES256, or undefined when not given. */
function algValue(values: OptionValues): SigningAlg | undefined {
  const value = values.alg;
  if (value === undefined) return undefined;
  if (value !== 'RS256' && value !== 'ES256') throw new AdminError('--alg must be RS256 or ES256.');
  return value;
}

function stringValue(values: OptionValues, name: string): string {
  const value = values[name];
  if (typeof value !== 'string') throw new AdminError(`--${name} is required.`);
  return value;
}

export const COMMANDS: Command[] = [
  {
    name: 'users list',
    summary: 'list users with their wikis, live sessions and live grants',
    options: { json },
    run: async ({ values }, ctx) => printRows(ctx, values, await listUsers(await ctx.store()), userColumns, 'No users.'),
  },
  {
    name: 'wikis list',
    summary: 'list wikis with their owner and MCP URL',
    options: { user: { type: 'string', value: 'USER', description: 'only the wikis of this user (DID or username)' }, json },
    run: async ({ values }, ctx) => {
      const owner = typeof values.user === 'string' ? values.user : undefined;
      printRows(ctx, values, await listWikis(await ctx.store(), ctx.config(), { user: owner }), wikiColumns, 'No wikis.');
    },
  },
  {
    name: 'wikis create',
    args: ['SLUG'],
    summary: 'create a wiki for an existing user',
    details:
      'SLUG follows the username rules: 3-63 characters a-z, 0-9 and "-", not at either end, no "--" in\n' +
      'third and fourth place, not a reserved name (RESERVED_USERNAMES), and not another user\'s username.\n' +
      'The wiki is served at {scheme}://SLUG.{PUBLIC_URL host}, its MCP endpoint at …/mcp.',
    options: { user: user('the owner: a DID (did:plc:…) or a username'), json },
    run: async ({ values, args }, ctx) => {
      const wiki = await createWiki(await ctx.store(), ctx.config(), { slug: args[0]!, user: stringValue(values, 'user') });
      if (values.json === true) printJson(ctx, toJsonRecord(wiki));
      else ctx.out(`Created the wiki ${wiki.slug} for ${wiki.ownerUsername} (${wiki.ownerDid}).\nWiki: ${wiki.url}\nMCP:  ${wiki.mcpUrl}`);
    },
  },
  {
    name: 'wikis deleted',
    summary: 'list wikis deleted from the account page (remove their content from the wiki app)',
    details:
      'A person deletes a wiki, or their whole account, on the account page: the grants are revoked and the\n' +
      'registry row is gone, but the pages live in the wiki app, which is not told. Remove them from there.',
    options: { json },
    run: async ({ values }, ctx) => printRows(ctx, values, await listDeletedWikis(await ctx.store()), deletedWikiColumns, 'No deleted wikis.'),
  },
  {
    name: 'users deleted',
    summary: 'list accounts their owners deleted (username reserved for DELETED_USERNAME_RESERVE_DAYS)',
    options: { json },
    run: async ({ values }, ctx) => printRows(ctx, values, await listDeletedUsers(await ctx.store()), deletedUserColumns, 'No deleted accounts.'),
  },
  {
    name: 'clients list',
    summary: 'list OAuth clients (dynamic registrations and cached metadata documents)',
    details: 'Clients that never obtained a token are purged after UNUSED_CLIENT_PURGE_SECONDS, idle ones after CLIENT_IDLE_PURGE_SECONDS.',
    options: { json },
    run: async ({ values }, ctx) => printRows(ctx, values, await listClients(await ctx.store()), clientColumns, 'No clients.'),
  },
  {
    name: 'sessions revoke',
    summary: "sign a user out of every browser (revokes all of the user's sessions)",
    options: { user: user('the user: a DID or a username') },
    run: async ({ values }, ctx) => {
      const { user: u, revoked } = await revokeSessions(await ctx.store(), stringValue(values, 'user'));
      ctx.out(`Revoked ${revoked} browser session${revoked === 1 ? '' : 's'} of ${u.username} (${u.did}).`);
    },
  },
  {
    name: 'grants revoke',
    summary: "disconnect every app of a user (revokes all of the user's OAuth grants)",
    details: 'Refresh tokens of the grants are deleted; their access tokens are refused from the next request on.',
    options: { user: user('the user: a DID or a username') },
    run: async ({ values }, ctx) => {
      const { user: u, revoked } = await revokeGrants(await ctx.store(), stringValue(values, 'user'));
      ctx.out(`Revoked ${revoked} grant${revoked === 1 ? '' : 's'} of ${u.username} (${u.did}).`);
    },
  },
  {
    name: 'keys list',
    summary: 'list the platform signing keys (PLATFORM_KEYS_FILE, or the database with PLATFORM_KEYS_KEK)',
    options: { json },
    run: async ({ values }, ctx) => printRows(ctx, values, await listStoredKeys(keyStoreOf(ctx.config(), ctx.keyRows)), keyColumns, 'No keys.'),
  },
  {
    name: 'keys rotate',
    summary: 'add a new platform signing key (access or identity); the previous one keeps verifying until its tokens expire',
    details:
      'The new key is put first among the keys of its purpose in PLATFORM_KEYS_FILE (access: MCP access\n' +
      'tokens, the default; identity: the wikis\' identity token). The previous signing key of that purpose gets\n' +
      'retire_after = now + the longest lifetime of what it signs (ACCESS_TOKEN_TTL_SECONDS, or 15 minutes for\n' +
      'identity tokens) and stays published until then. Running instances sign with the new key within\n' +
      'PLATFORM_KEYS_POLL_SECONDS, no restart needed (SIGHUP, systemctl reload robot-auth: at once).\n' +
      'An access key is of ACCESS_TOKEN_ALG unless --alg says otherwise. To switch RS256 -> ES256: set\n' +
      'ACCESS_TOKEN_ALG=ES256 in the environment file, run `keys rotate --alg ES256`, restart. The RS256 keys\n' +
      'keep verifying (and stay in the JWKS) until retire_after. Identity keys are always RS256.',
    options: {
      purpose: { type: 'string', value: 'access|identity', description: 'which key set to rotate (default access)' },
      alg: { type: 'string', value: 'RS256|ES256', description: 'the new access key\'s algorithm (default ACCESS_TOKEN_ALG)' },
      'drop-previous': {
        type: 'boolean',
        description: 'a key is compromised: stop accepting EVERY older key of that purpose at the next reload',
      },
    },
    run: async ({ values }, ctx) => {
      const dropPrevious = values['drop-previous'] === true;
      const purpose = values.purpose === undefined ? 'access' : values.purpose;
      if (purpose !== 'access' && purpose !== 'identity') throw new AdminError('--purpose must be access or identity.');
      const config = ctx.config();
      const result = await rotatePlatformKeys(config, { dropPrevious, purpose, alg: algValue(values), store: keyStoreOf(config, ctx.keyRows) });
      const switching = purpose === 'access' && result.alg !== config.accessTokenAlg;
      ctx.out(
        [
          `New ${purpose} signing key ${result.kid} (${result.alg}) written to ${result.file}.`,
          ...(result.signsFrom > nowSeconds()
            ? [
                `Every instance publishes it within ${config.platformKeysPollSeconds} s and signs with it from ${isoTime(result.signsFrom)} (pending until then: published, verifying), ` +
                  `once every copy of the old key set that verifiers may cache (JWKS_MAX_AGE_SECONDS, ${config.jwksMaxAgeSeconds} s) has expired.`,
              ]
            : []),
          dropPrevious
            ? `Retired ${result.droppedKids.join(', ') || 'no older key'}: the service stops accepting them when it reloads.`
            : `The previous key ${result.previousKid ?? '(none)'} verifies until ${isoTime(result.retireAfter)}; then run \`keys retire\`.`,
          switching
            ? `ACCESS_TOKEN_ALG is ${config.accessTokenAlg}: set ACCESS_TOKEN_ALG=${result.alg} in the service environment, then restart ` +
              '(systemctl restart robot-auth). Until then a reload refuses the new key and the service keeps its previous keys.'
            : `Running instances sign with it within PLATFORM_KEYS_POLL_SECONDS (${config.platformKeysPollSeconds} s), no restart needed; \`systemctl reload robot-auth\` does it at once.`,
        ].join('\n'),
      );
    },
  },
  {
    name: 'keys add-identity',
    summary: 'upgrade a key file from before the key split: add the key that signs wiki identity tokens',
    details:
      'Appends an RS256 key with purpose "identity" to PLATFORM_KEYS_FILE. Its keys without a purpose stay\n' +
      'access-token keys. Production refuses to start until the file has an identity key.',
    options: {},
    run: async (_args, ctx) => {
      const result = await addIdentityKey(ctx.config(), keyStoreOf(ctx.config(), ctx.keyRows));
      ctx.out(`Added identity-token key ${result.kid} to ${result.file}.\nNow start (or restart) the service: systemctl restart robot-auth`);
    },
  },
  {
    name: 'keys retire',
    summary: 'remove rotated-out keys whose tokens have all expired (past retire_after)',
    options: { 'dry-run': { type: 'boolean', description: 'only say which keys would be removed' } },
    run: async ({ values }, ctx) => {
      const dryRun = values['dry-run'] === true;
      const result = await retireStoredKeys(keyStoreOf(ctx.config(), ctx.keyRows), { dryRun });
      if (result.retired.length === 0) {
        const next = result.keys.filter((k) => k.retireAfter !== null).sort((a, b) => a.retireAfter! - b.retireAfter!)[0];
        ctx.out(`No key to retire.${next ? ` Next: ${next.kid} after ${isoTime(next.retireAfter!)}.` : ''}`);
        return;
      }
      ctx.out(
        `${dryRun ? 'Would remove' : 'Removed'} ${result.retired.join(', ')} from ${result.file}.` +
          (dryRun ? '' : '\nRunning instances stop publishing it within PLATFORM_KEYS_POLL_SECONDS (they already ignore keys past retire_after).'),
      );
    },
  },
  {
    name: 'keys import-to-database',
    summary: 'move the platform keys from PLATFORM_KEYS_FILE into the database, sealed under PLATFORM_KEYS_KEK (several instances)',
    details:
      'Copies every key of PLATFORM_KEYS_FILE, in order, into the database, each sealed with AES-256-GCM under\n' +
      'PLATFORM_KEYS_KEK. Refuses when the database already holds keys. Then give every instance the same\n' +
      'PLATFORM_KEYS_KEK and restart them; from then on `keys rotate`/`retire` write to the database and every\n' +
      'instance picks changes up within PLATFORM_KEYS_POLL_SECONDS. See docs/operations.md, "Keys with several instances".',
    options: {},
    run: async (_args, ctx) => {
      const result = await importKeysToDatabase(ctx.config(), ctx.keyRows);
      ctx.out(
        `Imported ${result.kids.length} platform keys (${result.kids.join(', ')}) from ${result.file} into ${result.to}.\n` +
          'Restart every instance with this PLATFORM_KEYS_KEK; then remove the key file (shred -u) and its backups: the database holds the keys now.',
      );
    },
  },
  {
    name: 'keys generate',
    summary: 'create production key files: platform (access RS256 or ES256, identity RS256) and ATProto client (ES256)',
    details:
      'Writes DIR/platform-keys.json and DIR/atproto-client-keys.json, mode 0600. Never overwrites.\n' +
      'The access key is RS256 unless --alg ES256 (then set ACCESS_TOKEN_ALG=ES256 too).',
    options: {
      out: { type: 'string', value: 'DIR', description: 'directory for the two key files (created 0700)', required: true },
      alg: { type: 'string', value: 'RS256|ES256', description: 'the access-token key\'s algorithm (default RS256)' },
    },
    run: async ({ values }, ctx) => {
      const keys = await generateProductionKeys(stringValue(values, 'out'), algValue(values));
      ctx.out(
        [
          `Wrote ${keys.platformKeysFile} (access ${keys.platformAlg} kid ${keys.platformKid}, identity RS256 kid ${keys.identityKid})`,
          `  and ${keys.atprotoClientKeysFile} (ES256, kid ${keys.atprotoKid}), mode 0600.`,
          'Set in the service environment:',
          `PLATFORM_KEYS_FILE=${keys.platformKeysFile}`,
          `ATPROTO_CLIENT_KEYS_FILE=${keys.atprotoClientKeysFile}`,
          ...(keys.platformAlg === 'ES256' ? ['ACCESS_TOKEN_ALG=ES256'] : []),
        ].join('\n'),
      );
    },
  },
  {
    name: 'purge',
    summary: 'delete expired rows and re-seal stored ATProto secrets now (the service also does it every 10 minutes)',
    details:
      'The same pass as the service (src/maintenance.ts): expired and idle rows, the ATProto stores re-sealed with\n' +
      'the first access key of PLATFORM_KEYS_FILE (rows no key in the file opens are deleted), and refresh\n' +
      'successors whose grace window closed. After `keys rotate`, reload the service first, then purge.',
    options: { json },
    run: async ({ values }, ctx) => {
      const counts = await adminPurge(ctx.config(), await ctx.store(), ctx.keyRows);
      if (values.json === true) return printJson(ctx, counts);
      const rows = Object.entries(counts).map(([table, deleted]) => ({ table, deleted }));
      ctx.out(formatTable(rows, [{ header: 'TABLE', value: (r) => r.table }, { header: 'DELETED', value: (r) => r.deleted }]));
    },
  },
  {
    name: 'backup create',
    args: ['FILE'],
    summary: 'copy the database to FILE with SQLite online backup (safe while the service runs)',
    details: '`backup FILE` does the same. FILE must not exist; it is written mode 0600 as one self-contained file.',
    options: {},
    run: async ({ args }, ctx) => {
      refuseOnPostgres(ctx, 'backup create', 'Back it up with pg_dump (or your PostgreSQL provider\'s backups).');
      const result = await backupDatabase(ctx.db({ allowPendingMigrations: true }), args[0]!);
      ctx.out(`Backed up ${ctx.config().databaseFile} to ${result.file} (${result.bytes} bytes). Check it with \`backup verify ${result.file}\`.`);
    },
  },
  {
    name: 'backup verify',
    args: ['FILE'],
    summary: 'check a backup: read-only open, PRAGMA integrity_check, migration versions',
    details: 'Exits with status 1 when the file is not a sound SQLite database.',
    options: { json },
    run: ({ values, args }, ctx) => {
      const result = verifyBackup(args[0]!);
      if (values.json === true) {
        printJson(ctx, { ...toJsonRecord(result), migrations: result.migrations.map(toJsonRecord) });
      } else if (!result.ok) {
        ctx.out(`${result.file}: NOT OK\n${result.problems.map((p) => `  ${p}`).join('\n')}`);
      } else {
        ctx.out(
          [
            `${result.file}: ok (integrity_check ok)`,
            'migrations:',
            ...result.migrations.map((m) => `  ${m.version} ${m.name} (applied ${shortTime(m.appliedAt)})`),
            `pending:    ${result.pending.join(', ') || 'none'}${result.pending.length > 0 ? ' (applied at start-up after a restore)' : ''}`,
            ...(result.unknown.length > 0 ? [`unknown:    ${result.unknown.join(', ')} (from a newer release)`] : []),
            `rows:       ${Object.entries(result.counts).map(([table, n]) => `${table} ${n}`).join(', ')}`,
          ].join('\n'),
        );
      }
      return result.ok ? 0 : 1;
    },
  },
  {
    name: 'status',
    summary: 'database file, schema version, row counts and signing keys at a glance',
    options: { json },
    run: async ({ values }, ctx) => {
      const config = ctx.config();
      if (config.databaseUrl !== undefined) return postgresStatusCommand(values, ctx);
      const db = ctx.db({ allowPendingMigrations: true });
      const postgres = await postgresStatus(ctx.postgres()); // only when DATABASE_URL is set
      const now = nowSeconds();
      const count = (sql: string) => {
        const statement = db.prepare(sql);
        return ((sql.includes('@now') ? statement.get({ now }) : statement.get()) as { n: number }).n;
      };
      const status = {
        databaseFile: config.databaseFile,
        databaseBytes: fs.statSync(config.databaseFile).size,
        walBytes: fs.existsSync(`${config.databaseFile}-wal`) ? fs.statSync(`${config.databaseFile}-wal`).size : 0,
        appliedMigrations: (db.prepare('SELECT name FROM schema_migrations ORDER BY version').all() as { name: string }[]).map((r) => r.name),
        pendingMigrations: pendingMigrations(db, readMigrations()).map((m) => m.name),
        users: count('SELECT count(*) AS n FROM users'),
        wikis: count('SELECT count(*) AS n FROM wikis'),
        clients: count('SELECT count(*) AS n FROM oauth_clients'),
        liveGrants: count('SELECT count(*) AS n FROM oauth_grants WHERE revoked_at IS NULL AND expires_at > @now'),
        liveSessions: count('SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > @now'),
        keys: config.platformKeysKek !== undefined || fs.existsSync(config.platformKeysFile) ? await listStoredKeys(keyStoreOf(config, ctx.keyRows), now) : [],
      };
      if (values.json === true) {
        return printJson(ctx, { ...toJsonRecord(status), keys: status.keys.map(toJsonRecord), ...(postgres ? { postgres: toJsonRecord(postgres) } : {}) });
      }
      ctx.out(
        [
          `database:   ${status.databaseFile} (${status.databaseBytes} bytes, WAL ${status.walBytes} bytes)`,
          `migrations: ${status.appliedMigrations.join(', ') || 'none'}; pending: ${status.pendingMigrations.join(', ') || 'none'}`,
          `rows:       ${status.users} users, ${status.wikis} wikis, ${status.clients} clients, ${status.liveGrants} live grants, ${status.liveSessions} live sessions`,
          `keys:       ${status.keys.map((k) => `${k.kid} (${k.role}${k.retireAfter === null ? '' : `, retire after ${shortTime(k.retireAfter)}`})`).join('; ') || 'none'}`,
          ...(postgres ? [`postgres:   ${postgres.database}: migrations ${postgres.applied.join(', ') || 'none'}; pending: ${postgres.pending.join(', ') || 'none'}`] : []),
        ].join('\n'),
      );
    },
  },
  doctorCommand,
];

/**
 * `status` with DATABASE_URL set: the service's data is in PostgreSQL, so the counts come from the
 * Store there (the SQLite file, if any, is not what the service uses) and the migrations are PostgreSQL's.
 */
async function postgresStatusCommand(values: OptionValues, ctx: CommandContext): Promise<void> {
  const config = ctx.config();
  const postgres = (await postgresStatus(ctx.postgres()))!;
  const store = await ctx.store({ allowPendingMigrations: true });
  const now = nowSeconds();
  const users = await store.repos.operator.listUsers(now);
  const status = {
    database: postgres.database,
    appliedMigrations: postgres.applied,
    pendingMigrations: postgres.pending,
    users: users.length,
    wikis: (await store.repos.operator.listWikis(null, now)).length,
    clients: (await store.repos.operator.listClients(now)).length,
    liveGrants: users.reduce((n, u) => n + u.liveGrants, 0),
    liveSessions: users.reduce((n, u) => n + u.liveSessions, 0),
    keys: config.platformKeysKek !== undefined || fs.existsSync(config.platformKeysFile) ? await listStoredKeys(keyStoreOf(config, ctx.keyRows), now) : [],
  };
  if (values.json === true) return printJson(ctx, { ...toJsonRecord(status), keys: status.keys.map(toJsonRecord), postgres: toJsonRecord(postgres) });
  ctx.out(
    [
      `database:   ${status.database} (PostgreSQL, DATABASE_URL; DATABASE_FILE is not used)`,
      `migrations: ${status.appliedMigrations.join(', ') || 'none'}; pending: ${status.pendingMigrations.join(', ') || 'none'}`,
      `rows:       ${status.users} users, ${status.wikis} wikis, ${status.clients} clients, ${status.liveGrants} live grants, ${status.liveSessions} live sessions`,
      `keys:       ${status.keys.map((k) => `${k.kid} (${k.role}${k.retireAfter === null ? '' : `, retire after ${shortTime(k.retireAfter)}`})`).join('; ') || 'none'}`,
    ].join('\n'),
  );
}

/** SQLite-only commands (a file copy) say so when the service's data is in PostgreSQL. */
function refuseOnPostgres(ctx: CommandContext, command: string, instead: string): void {
  const url = ctx.config().databaseUrl;
  if (url === undefined) return;
  throw new AdminError(
    `\`${command}\` works on the SQLite file (DATABASE_FILE), but DATABASE_URL is set: the service's data is in PostgreSQL (${ctx.postgres()!.database}). ${instead}`,
  );
}

COMMANDS.push(auditCommand);
COMMANDS.push(migrateCommand, migrateToPostgresCommand);
recordAdminActions(COMMANDS); // audit log entries for the commands that change something (src/admin/audit.ts)
