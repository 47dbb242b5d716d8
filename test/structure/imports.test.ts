// Structure rules (issue 12 item 8), checked by reading the source:
//  - src/db/ is storage plumbing: it imports no feature folder, so a feature can move to another
//    store without dragging the database layer with it (purge.ts once read a TTL from src/atproto/);
//  - every credential lifetime is defined in src/lifetimes.ts and nowhere else;
//  - SQL is written in the repositories (*.repo.ts), src/db/ and src/storage/ only. The files listed in
//    RAW_SQL_STILL_OUTSIDE_REPOSITORIES predate the rule; no new file may join them (move the SQL
//    into the owning repository instead), and a file that no longer needs its entry should lose it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');
const FEATURES = ['atproto', 'oauth', 'accounts', 'wikis', 'resource'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** The src/ folders a file imports from (static and dynamic imports, `export … from`). */
function importedFolders(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers.map((s) => path.relative(SRC, path.resolve(path.dirname(file), s)).split(path.sep)[0]!);
}

describe('structure', () => {
  it('no file under src/db/ imports from a feature folder', () => {
    const offenders = sourceFiles(path.join(SRC, 'db')).flatMap((file) =>
      importedFolders(file).filter((folder) => FEATURES.includes(folder)).map((folder) => `${path.relative(SRC, file)} → src/${folder}`),
    );
    expect(offenders).toEqual([]);
  });

  it('the checker sees a feature import (it would catch purge.ts reading src/atproto/stores.ts)', () => {
    const probe = path.join(SRC, 'db', 'purge.ts');
    expect(importedFolders(probe)).toContain('lifetimes.ts');
    const fake = `import { X } from '../atproto/stores.ts';\nconst y = await import('../oauth/a.ts');`;
    const specifiers = [...fake.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
    expect(specifiers).toEqual(['../atproto/stores.ts', '../oauth/a.ts']);
  });

  it('credential lifetimes (…_TTL_SECONDS, …_KEEP_SECONDS, …_LIFETIME_SECONDS) are defined only in src/lifetimes.ts', () => {
    const definitions = sourceFiles(SRC).flatMap((file) =>
      [...fs.readFileSync(file, 'utf8').matchAll(/^\s*(?:export\s+)?const\s+(\w+_(?:TTL|KEEP|LIFETIME)_SECONDS)\b/gm)].map((m) => `${path.relative(SRC, file)}: ${m[1]}`),
    );
    expect(definitions.length).toBeGreaterThan(5);
    expect(definitions.filter((d) => !d.startsWith('lifetimes.ts:'))).toEqual([]);
  });
});

/**
 * Files outside the storage layer that still prepare SQL themselves, and why: they work on the
 * SQLite file as a file, whatever the service's store: the admin CLI's `status` and `backup` and the
 * doctor's checks of the file and its key table; migrate-to-postgres copies every table as it is (a
 * whole-database tool, like src/db/); the SQLite side of the platform key rows (config/key-source.ts,
 * read at start-up before the store exists; its PostgreSQL twin is config/key-source.postgres.ts).
 * No new file may join them, and a file that no longer needs its entry loses it (checked below).
 */
const RAW_SQL_OUTSIDE_STORAGE = new Set([
  'admin/commands.ts',
  'admin/doctor/checks/database.ts',
  'admin/doctor/checks/key-age.ts',
  'admin/migrate-to-postgres.ts',
  'config/key-source.ts',
]);

const RAW_SQL = /\.prepare\s*[<(]|\bdb(?:\(\))?\.(?:pragma|exec)\s*\(/;
const rel = (file: string) => path.relative(SRC, file).split(path.sep).join('/');
const outsideStorage = (r: string) => !r.endsWith('.repo.ts') && !r.startsWith('db/') && !r.startsWith('storage/');

describe('raw database access', () => {
  it('only repositories, src/db/ and src/storage/ prepare SQL (apart from the listed files)', () => {
    const offenders = sourceFiles(SRC)
      .map(rel)
      .filter(outsideStorage)
      .filter((r) => RAW_SQL.test(fs.readFileSync(path.join(SRC, r), 'utf8')))
      .filter((r) => !RAW_SQL_OUTSIDE_STORAGE.has(r));
    expect(offenders).toEqual([]);
  });

  it('every listed file still needs its entry', () => {
    const stale = [...RAW_SQL_OUTSIDE_STORAGE].filter((r) => !RAW_SQL.test(fs.readFileSync(path.join(SRC, r), 'utf8')));
    expect(stale).toEqual([]);
  });

  it('the pattern sees a prepared statement and ignores RegExp.exec', () => {
    expect(RAW_SQL.test("deps.db.prepare<[string]>('DELETE FROM x')")).toBe(true);
    expect(RAW_SQL.test("ctx.db\n    .prepare('SELECT 1')")).toBe(true);
    expect(RAW_SQL.test("db.pragma('quick_check')")).toBe(true);
    expect(RAW_SQL.test('/^max-age=(\\d+)$/.exec(d)')).toBe(false);
  });
});

/**
 * The synchronous repositories (the `*.repo.ts` files: `createUsersRepo`, …) are the SQLite store's
 * implementation now (issue 12 item 8): only src/storage/sqlite/ builds them. Their domain types
 * and pure helpers (`User`, `sessionHandle`, `refreshTokenHash`, …) may be imported anywhere.
 * The raw SQLite connection (`Db`, `openDatabase` from src/db/open.ts) is opened and held only by
 * the storage layer (src/db/, src/storage/sqlite/, the repositories themselves) and the files below,
 * each for the SQLite file as a file.
 */
const RAW_DB_OUTSIDE_STORAGE = new Map([
  ['context.ts', 'opens DATABASE_FILE for the SQLite store; ctx.sqlite (the checkpointer)'],
  ['server.ts', 'opens DATABASE_FILE to back it up before migrating'],
  ['storage/open-store.ts', 'picks the store: SQLite at DATABASE_FILE or PostgreSQL at DATABASE_URL'],
  ['config/key-source.ts', 'the SQLite side of the platform key rows'],
  ['admin/database.ts', 'the admin CLI opens the SQLite file (its store, status, backup)'],
  ['admin/program.ts', 'the admin CLI hands the SQLite connection to its commands'],
  ['admin/commands.ts', '`status` and `backup create` on the SQLite file'],
  ['admin/doctor/command.ts', 'the doctor checks the SQLite file'],
  ['admin/doctor/types.ts', 'the doctor checks the SQLite file'],
  ['admin/migrate-to-postgres.ts', 'copies the SQLite file into PostgreSQL'],
]);

/** Names a file imports from a module matching `from` (static imports, type-only included). */
function importedNames(file: string, from: RegExp): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+['"]([^'"]+)['"]/g)]
    .filter((m) => from.test(m[2]!))
    .flatMap((m) => m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!))
    .filter(Boolean);
}

describe('the synchronous repositories and the raw connection', () => {
  it('only src/storage/sqlite/ builds a synchronous repository', () => {
    const offenders = sourceFiles(SRC)
      .filter((file) => !rel(file).startsWith('storage/sqlite/'))
      .flatMap((file) => importedNames(file, /\.repo\.ts$/).filter((n) => /^create\w+Repo$/.test(n)).map((n) => `${rel(file)}: ${n}`));
    expect(offenders).toEqual([]);
  });

  it('only the storage layer and the listed files import the raw SQLite connection', () => {
    const offenders = sourceFiles(SRC)
      .map(rel)
      .filter((r) => outsideStorage(r) && !r.startsWith('storage/sqlite/'))
      .filter((r) => importedNames(path.join(SRC, r), /\/db\/open\.ts$|^\.\/open\.ts$/).some((n) => n === 'Db' || n === 'openDatabase'))
      .filter((r) => !RAW_DB_OUTSIDE_STORAGE.has(r));
    expect(offenders).toEqual([]);
    const stale = [...RAW_DB_OUTSIDE_STORAGE.keys()].filter(
      (r) => !importedNames(path.join(SRC, r), /\/db\/open\.ts$/).some((n) => n === 'Db' || n === 'openDatabase'),
    );
    expect(stale).toEqual([]);
  });

  it('AppContext has no raw connection and no synchronous repository', () => {
    const text = fs.readFileSync(path.join(SRC, 'context.ts'), 'utf8');
    const body = text.slice(text.indexOf('export interface AppContext'), text.indexOf('\n}\n', text.indexOf('export interface AppContext')));
    expect(body).not.toMatch(/^\s+db\s*:/m);
    expect(body).not.toMatch(/Repo\b/);
  });

  it('the checker sees what it looks for', () => {
    const probe = path.join(SRC, 'storage', 'sqlite', 'repositories.ts');
    expect(importedNames(probe, /\.repo\.ts$/)).toContain('createUsersRepo');
    expect(importedNames(path.join(SRC, 'context.ts'), /\/db\/open\.ts$/)).toContain('Db');
  });
});
