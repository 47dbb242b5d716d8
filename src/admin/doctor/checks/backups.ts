// Backup age: the newest `*.sqlite` file in the backup directories (the nightly timer of
// docs/operations.md writes /var/backups/robot-auth/robot-auth-*.sqlite) or a pre-migration backup
// next to the database. Older than --backup-max-age-days (default 2), or none at all: warn.
import fs from 'node:fs';
import path from 'node:path';
import type { Check } from '../types.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

interface Found {
  file: string;
  mtimeMs: number;
}

function sqliteFilesIn(dir: string, accept: (name: string) => boolean): Found[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.sqlite') && accept(n))
    .map((n) => path.join(dir, n))
    .flatMap((file) => {
      try {
        const stat = fs.statSync(file);
        return stat.isFile() ? [{ file, mtimeMs: stat.mtimeMs }] : [];
      } catch {
        return [];
      }
    });
}

export const backupsCheck: Check = {
  name: 'backups',
  title: 'age of the latest database backup',
  async run(target) {
    if (target.postgres) {
      return {
        status: 'warn',
        seen: `the data is in PostgreSQL (${target.postgres.database}): this check sees only SQLite backup files`,
        advice: 'make sure PostgreSQL is backed up (a nightly `pg_dump -Fc`, or your provider\'s backups) and that a restore has been tried',
      };
    }
    const dbName = path.basename(target.databaseFile);
    const found = [
      ...target.backupDirs.flatMap((dir) => sqliteFilesIn(dir, () => true)),
      ...sqliteFilesIn(path.dirname(target.databaseFile), (n) => n.startsWith(`${dbName}.pre-migration-`)),
    ].sort((a, b) => b.mtimeMs - a.mtimeMs);
    const newest = found[0];
    const where = target.backupDirs.length > 0 ? target.backupDirs.join(', ') : 'no backup directory (--backup-dir)';
    if (!newest) {
      return {
        status: 'warn',
        seen: `no backup found in ${where} nor next to the database`,
        advice: 'set up the nightly backup timer (docs/operations.md, Backups) and pass its directory with --backup-dir',
      };
    }
    const days = (target.now() - newest.mtimeMs) / DAY_MS;
    const seen = `newest backup ${newest.file}, ${days.toFixed(1)} days old`;
    if (days > target.backupMaxAgeDays) {
      return { status: 'warn', seen, advice: `older than ${target.backupMaxAgeDays} days: check the backup timer (systemctl list-timers robot-auth-backup)` };
    }
    return { status: 'ok', seen };
  },
};
