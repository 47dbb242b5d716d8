// The service's one logger (pino, JSON lines on stdout, synchronous writes: a line is in the pipe
// before the next statement runs, so the last lines before a crash or SIGKILL are never lost).
// pino's default destination is NOT that: with no stream given it writes through an asynchronous
// SonicBoom (fs.write on libuv's pool), which lost the last lines at a SIGKILL and cost a thread
// hand-off per request line (docs/benchmarks.md "Round 4: machine endpoints and idle memory"); so
// the destination is named here, sync (test/web/log-durability.test.ts).
import { pino, type Logger } from 'pino';

export type { Logger };

/** The paths cut out of every line (below); the request log's own line has none of them. */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.client_secret',
  '*.refresh_token',
  '*.access_token',
  '*.code_verifier',
];

/** `destination` is for tests that read the lines; the service writes to stdout, synchronously. */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
  return pino({
    level,
    base: { service: 'robot-auth' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Never log credentials, even by accident.
    redact: {
      paths: [...REDACTED_PATHS],
      censor: '[redacted]',
    },
  }, destination);
}

/**
 * The same logger (stream, level, base fields) without the redaction pass, for lines whose shape is
 * fixed and built from fields that are never credentials: the request log's `req` {id, method,
 * redacted url, host}, `res` {statusCode} and `responseTime` (src/web/request-log.ts). pino's
 * redaction copies every logged object, and was two thirds of the cost of such a line (10.7 against
 * 3.4 µs per line, docs/benchmarks.md "Round 3: verify, MCP and discovery").
 */
export function withoutRedaction(log: Logger): Logger {
  return log.child({}, { redact: { paths: [] } });
}
