// Output helpers: aligned text tables for people, JSON (snake_case keys, ISO 8601 times) for scripts.

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
}

/** A plain text table: a header row, then one line per row, columns padded to the widest cell. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => cellText(c.value(row))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function cellText(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : String(value);
}

/** Seconds since the epoch → `2026-01-31T12:00:00Z`. */
export function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Seconds since the epoch → `2026-01-31 12:00` (UTC), for tables; `-` for none. */
export function shortTime(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? '-' : isoTime(seconds).slice(0, 16).replace('T', ' ');
}

/** An internal record as JSON output: camelCase keys become snake_case, `…At`/`…After` seconds become ISO times. */
export function toJsonRecord(record: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).map(([key, value]) => [
      key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      /(At|After)$/.test(key) && typeof value === 'number' ? isoTime(value) : value,
    ]),
  );
}
