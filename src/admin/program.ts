// The CLI around the commands: configuration (environment, then --env-file or ./.env), argument
// parsing (node:util parseArgs), help for the whole and for each command, exit statuses
// (0 ok, 1 failed, 2 usage error), and closing the database (the SQLite connection, the Store, the
// PostgreSQL pool) whatever happens.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, parseEnv, type ParseArgsOptionsConfig } from 'node:util';
import { ConfigError, parseConfig, type Config } from '../config/env.ts';
import type { Db } from '../db/open.ts';
import type { Store } from '../storage/store.ts';
import { COMMANDS, type Command, type CommandContext, type OptionSpec, type OptionValues } from './commands.ts';
import { adminKeyRows, adminPostgres, openAdminDatabase, openAdminStore, type AdminPostgres } from './database.ts';
import { AdminError, UsageError } from './errors.ts';

export interface CliIo {
  /** The process environment; it wins over the env file. */
  env: Record<string, string | undefined>;
  /** Where `.env` is looked for (default: the working directory). */
  cwd?: string;
  out(text: string): void;
  err(text: string): void;
}

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  'env-file': {
    type: 'string',
    value: 'FILE',
    description: 'read configuration from FILE (default: ./.env if present); real environment variables win',
  },
  help: { type: 'boolean', short: 'h', description: 'show help (also after a command: `users list --help`)' },
};

const USAGE_PREFIX = 'npm run admin --';

/** Runs one CLI invocation; returns the exit status. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let db: Db | undefined;
  let postgres: AdminPostgres | undefined;
  let store: Promise<Store> | undefined;
  try {
    const words = commandWords(argv);
    const command = findCommand(words);
    if (!command) return helpFor(words, argv, io);
    const parsed = parseCommandArgs(command, argv);
    if (parsed.values.help === true) {
      io.out(commandHelp(command));
      return 0;
    }
    let config: Config | undefined;
    const ctx: CommandContext = {
      out: (text) => io.out(text),
      config: () => (config ??= loadConfig(parsed.values, io)),
      db: (options) => (db ??= openAdminDatabase(ctx.config(), options)),
      postgres: () => {
        const url = ctx.config().databaseUrl;
        return url === undefined ? undefined : (postgres ??= adminPostgres(url));
      },
      store: (options) => (store ??= openAdminStore(() => ctx.db(options), ctx.postgres(), ctx.config().databaseUrl, options)),
      keyRows: () => adminKeyRows(() => ctx.db(), ctx.postgres()),
      env: (name) => io.env[name],
    };
    const status = await command.run(parsed, ctx);
    return typeof status === 'number' ? status : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\nSee \`${USAGE_PREFIX} --help\`.`);
      return 2;
    }
    if (err instanceof AdminError || err instanceof ConfigError) {
      io.err(err.message);
      return 1;
    }
    io.err(err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 1;
  } finally {
    await (await store?.catch(() => undefined))?.close();
    await postgres?.close();
    if (db?.open) db.close();
  }
}

/** Every option any command knows, so that a first, lenient pass can tell command words from option values. */
function allOptions(): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = toParseArgs(GLOBAL_OPTIONS);
  for (const command of COMMANDS) Object.assign(options, toParseArgs(command.options));
  return options;
}

function toParseArgs(specs: Record<string, OptionSpec>): ParseArgsOptionsConfig {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [name, spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short }]),
  );
}

/** The positional words of the command line (command words first, then its arguments). */
function commandWords(argv: string[]): string[] {
  return parseArgs({ args: argv, options: allOptions(), strict: false, allowPositionals: true }).positionals;
}

/** `users list FILE…` → the `users list` command; `backup FILE` is `backup create FILE`. */
function findCommand(words: string[]): Command | undefined {
  const two = words.slice(0, 2).join(' ');
  const exact = COMMANDS.find((c) => c.name === two) ?? COMMANDS.find((c) => c.name === words[0]);
  if (exact) return exact;
  if (words[0] === 'backup' && words.length === 2) return COMMANDS.find((c) => c.name === 'backup create');
  return undefined;
}

function parseCommandArgs(command: Command, argv: string[]): { values: OptionValues; args: string[] } {
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    const result = parseArgs({ args: argv, options: toParseArgs({ ...command.options, ...GLOBAL_OPTIONS }), strict: true, allowPositionals: true });
    // No option is `multiple`, so no value is an array.
    parsed = { values: result.values as OptionValues, positionals: result.positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (${command.name})`);
  }
  const nameWords = command.name.split(' ');
  // `backup FILE`: the command word `create` was left out.
  const given = parsed.positionals.slice(0, nameWords.length).join(' ') === command.name ? nameWords.length : 1;
  const args = parsed.positionals.slice(given);
  if (parsed.values.help === true) return { values: parsed.values, args };
  const expected = command.args ?? [];
  if (args.length !== expected.length) {
    throw new UsageError(
      expected.length === 0
        ? `\`${command.name}\` takes no arguments, got: ${args.join(' ')}`
        : `\`${command.name}\` needs ${expected.join(' ')}${args.length > expected.length ? `, got more: ${args.join(' ')}` : ''}`,
    );
  }
  for (const [name, spec] of Object.entries(command.options)) {
    if (spec.required && typeof parsed.values[name] !== 'string') throw new UsageError(`\`${command.name}\` needs --${name} ${spec.value ?? ''}`.trimEnd());
  }
  return { values: parsed.values, args };
}

function loadConfig(values: OptionValues, io: CliIo): Config {
  const explicit = typeof values['env-file'] === 'string' ? values['env-file'] : undefined;
  const file = explicit ?? path.join(io.cwd ?? process.cwd(), '.env');
  let fromFile: Record<string, string | undefined> = {};
  if (explicit !== undefined || fs.existsSync(file)) {
    try {
      fromFile = parseEnv(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new AdminError(`Cannot read the env file ${file}: ${(err as Error).message}`);
    }
  }
  return parseConfig({ ...fromFile, ...io.env });
}

/** No command matched: the overview, a group's commands, or an error. */
function helpFor(words: string[], argv: string[], io: CliIo): number {
  const wantsHelp = argv.includes('--help') || argv.includes('-h') || words[0] === 'help';
  const print = (text: string) => (wantsHelp ? io.out(text) : io.err(text));
  if (words.length === 0 || (words[0] === 'help' && words.length === 1)) {
    print(overviewHelp());
    return wantsHelp ? 0 : 2;
  }
  const group = words[0] === 'help' ? words[1] : words[0];
  const members = COMMANDS.filter((c) => c.name.split(' ')[0] === group);
  if (members.length > 0 && (words.length === 1 || wantsHelp)) {
    print(`Commands of ${group}:\n${commandList(members)}\n\nDetails: ${USAGE_PREFIX} ${group} <command> --help`);
    return wantsHelp ? 0 : 2;
  }
  throw new UsageError(`Unknown command: ${words.join(' ')}`);
}

function synopsis(command: Command): string {
  const options = Object.entries(command.options).map(([name, spec]) => {
    const text = `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
    return spec.required ? text : `[${text}]`;
  });
  return [command.name, ...(command.args ?? []), ...options].join(' ');
}

function commandList(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length + (c.args ? c.args.join(' ').length + 1 : 0)));
  return commands.map((c) => `  ${[c.name, ...(c.args ?? [])].join(' ').padEnd(width)}  ${c.summary}`).join('\n');
}

function optionList(specs: Record<string, OptionSpec>): string {
  const label = (name: string, spec: OptionSpec) =>
    `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
  const entries = Object.entries(specs);
  const width = Math.max(...entries.map(([name, spec]) => label(name, spec).length));
  return entries.map(([name, spec]) => `  ${label(name, spec).padEnd(width)}  ${spec.description}`).join('\n');
}

export function overviewHelp(): string {
  return [
    'robot-auth admin: operator commands. They work beside the running service (no need to stop it).',
    '',
    `Usage: ${USAGE_PREFIX} <command> [options]`,
    '       node src/admin/cli.ts <command> [options]',
    '',
    'Commands:',
    commandList(COMMANDS),
    '',
    'Global options:',
    optionList(GLOBAL_OPTIONS),
    '',
    'Configuration is the service\'s: environment variables (DATA_DIR, DATABASE_FILE, PLATFORM_KEYS_FILE, …),',
    'then --env-file or ./.env. In production run it as the service user with its environment file:',
    '  cd /opt/robot-auth && sudo -u robot-auth node src/admin/cli.ts --env-file /etc/robot-auth/robot-auth.env users list',
    '',
    `Help for one command: ${USAGE_PREFIX} <command> --help. Exit status: 0 ok, 1 failed, 2 usage error.`,
  ].join('\n');
}

export function commandHelp(command: Command): string {
  const options = { ...command.options, ...GLOBAL_OPTIONS };
  return [
    `Usage: ${USAGE_PREFIX} ${synopsis(command)}`,
    '',
    `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`,
    ...(command.details ? ['', command.details] : []),
    '',
    'Options:',
    optionList(options),
  ].join('\n');
}
