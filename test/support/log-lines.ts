// A pino logger whose lines the test reads back, parsed, to assert what the operator is told.
import { pino } from 'pino';

export function captureLog(level: pino.Level = 'info'): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const log = pino({ level }, { write: (line: string) => void out.push(line) });
  return { log, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
