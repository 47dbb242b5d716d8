// The environment the systemd unit gives the service (deploy/robot-auth.service `Environment=` lines:
// NODE_OPTIONS=--max-semi-space-size=4, MALLOC_ARENA_MAX=2), read from the unit itself so that every
// bench child that runs the app (run.ts's children, startup.ts, profile-startup.ts, profile-memory.ts)
// measures what operators run, and stays in step when the unit changes (issue 11: RSS is a target).
// NODE_COMPILE_CACHE too, see benchUnitEnvironment.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNIT = path.join(ROOT, 'deploy/robot-auth.service');

/** `Environment=NAME=VALUE` lines of the unit's [Service] section (one assignment per line, unquoted). */
export function unitEnvironment(file = UNIT): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^Environment=([A-Z_][A-Z0-9_]*)=(\S*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** For the bench's output: `NODE_OPTIONS=… MALLOC_ARENA_MAX=2 … (as deploy/robot-auth.service sets them)`. */
export function describeUnitEnvironment(env = unitEnvironment()): string {
  const shown = Object.entries(env).map(([k, v]) => (k === 'NODE_COMPILE_CACHE' ? `${k} (warmed, in bench-results/.compile-cache)` : `${k}=${v}`));
  return `${shown.join(' ')}, as deploy/robot-auth.service sets them`;
}

let warmedCache: string | undefined;

/**
 * The unit's environment for a bench child. The unit's NODE_COMPILE_CACHE (written at deploy time by
 * scripts/warm-compile-cache.ts) becomes a directory of the bench's own, filled the same way once per
 * bench process, so that children start as the deployed service does.
 */
export function benchUnitEnvironment(): Record<string, string> {
  const env = unitEnvironment();
  if (env.NODE_COMPILE_CACHE !== undefined) {
    if (warmedCache === undefined) {
      const dir = path.join(ROOT, 'bench-results/.compile-cache');
      execFileSync(process.execPath, [path.join(ROOT, 'scripts/warm-compile-cache.ts')], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_COMPILE_CACHE: dir },
        stdio: 'ignore',
      });
      warmedCache = dir;
    }
    env.NODE_COMPILE_CACHE = warmedCache;
  }
  return env;
}
