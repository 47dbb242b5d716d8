// src/web/log.ts promises synchronous writes: a line is in the pipe before the next statement runs,
// so the last lines before a crash (SIGKILL, an abort, the OOM killer) reach the journal. pino's
// default destination is an asynchronous SonicBoom (writes from libuv's pool), which loses them.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const logModule = path.resolve('src/web/log.ts');

function runChild(code: string): { stdout: string; signal: NodeJS.Signals | null } {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
  return { stdout: out.stdout, signal: out.signal };
}

describe('the service logger writes synchronously', () => {
  it('the lines logged right before a SIGKILL are on stdout', () => {
    const { stdout, signal } = runChild(`
      import { createLogger } from ${JSON.stringify(logModule)};
      const log = createLogger('info');
      for (let i = 0; i < 50; i++) log.info({ i }, 'line before the crash');
      process.kill(process.pid, 'SIGKILL');
    `);
    expect(signal).toBe('SIGKILL');
    const lines = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { i: number; msg: string });
    expect(lines).toHaveLength(50);
    expect(lines.at(-1)).toMatchObject({ i: 49, msg: 'line before the crash' });
  });

});
