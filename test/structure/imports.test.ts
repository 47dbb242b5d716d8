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
 * Files outside the repositories that still prepare SQL themselves (issue 12 item 8), and why they
 * have not moved yet: the admin CLI's operator reports and the multi-table deletions run their own
 * statements inside one transaction; the audit log and the ATProto stores are their tables' own
 * store; the health check's `SELECT 1` is the probe itself; migrate-to-postgres copies every table
 * as it is (a whole-database tool, like src/db/); the platform key rows (config/key-source.ts) are
 * read at start-up, before any repository exists, by a key store of their own.
 */
const RAW_SQL_STILL_OUTSIDE_REPOSITORIES = new Set([
  'admin/audit.ts',
  'admin/clients.ts',
  'admin/commands.ts',
  'admin/deletions.ts',
  'admin/doctor/checks/database.ts',
  'admin/doctor/checks/key-age.ts',
  'admin/doctor/command.ts',
  'admin/migrate-to-postgres.ts',
  'admin/users.ts',
  'admin/wikis.ts',
  'audit/audit-log.ts',
  'config/key-source.ts',
  'oauth/token/client-assertion.ts',
  'web/health.route.ts',
  'wikis/delete-wiki.ts',
  'wikis/new-wiki-cap.ts',
  'wikis/reserved-names.ts',
]);

describe('raw database access', () => {
  const RAW_SQL = /\.prepare\s*[<(]|\bdb(?:\(\))?\.(?:pragma|exec)\s*\(/;

  it('only repositories, src/db/ and src/storage/ prepare SQL (apart from the listed files)', () => {
    const offenders = sourceFiles(SRC)
      .map((file) => path.relative(SRC, file).split(path.sep).join('/'))
      .filter((rel) => !rel.endsWith('.repo.ts') && !rel.startsWith('db/') && !rel.startsWith('storage/'))
      .filter((rel) => RAW_SQL.test(fs.readFileSync(path.join(SRC, rel), 'utf8')))
      .filter((rel) => !RAW_SQL_STILL_OUTSIDE_REPOSITORIES.has(rel));
    expect(offenders).toEqual([]);
  });

  it('the pattern sees a prepared statement and ignores RegExp.exec', () => {
    expect(RAW_SQL.test("deps.db.prepare<[string]>('DELETE FROM x')")).toBe(true);
    expect(RAW_SQL.test("ctx.db\n    .prepare('SELECT 1')")).toBe(true);
    expect(RAW_SQL.test("db.pragma('quick_check')")).toBe(true);
    expect(RAW_SQL.test('/^max-age=(\\d+)$/.exec(d)')).toBe(false);
  });
});
