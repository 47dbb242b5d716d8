// The shipped deployment files: the production environment example sets every variable the service
// reads and is a valid production configuration; the systemd unit has the hardening and the
// graceful-stop settings the service relies on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES, parseConfig } from '../../src/config/env.ts';
import { freePort } from '../support/app.ts';
import { ROOT, startServer } from './server-process.ts';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

describe('deploy/production.env.example', () => {
  const text = read('deploy/production.env.example');
  const values = parseEnv(text);

  it('lists every variable of src/config/env.ts, and nothing else', () => {
    const listed = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...ENV_VARIABLES].sort());
  });

  it('is a valid production configuration for example.org, with the paths the unit allows', () => {
    const config = parseConfig(values);
    expect(config).toMatchObject({
      production: true,
      publicUrl: 'https://example.org',
      host: '127.0.0.1',
      cookieDomain: '.example.org',
      dataDir: '/var/lib/robot-auth',
      databaseFile: '/var/lib/robot-auth/robot-auth.sqlite',
    });
    expect(config.platformKeysFile).toMatch(/^\/etc\/robot-auth\//);
    expect(config.atprotoClientKeysFile).toMatch(/^\/etc\/robot-auth\//);
  });
});

describe('deploy/robot-auth.service', () => {
  const unit = read('deploy/robot-auth.service');
  const directives = new Map(
    [...unit.matchAll(/^([A-Za-z]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]),
  );

  it('runs Node 24 on src/server.ts from /opt/robot-auth as its own user, with the production env file', () => {
    expect(directives.get('ExecStart')).toMatch(/^\/\S+\/node src\/server\.ts$/);
    expect(directives.get('WorkingDirectory')).toBe('/opt/robot-auth');
    expect(directives.get('User')).toBe('robot-auth');
    expect(directives.get('Group')).toBe('robot-auth');
    expect(directives.get('EnvironmentFile')).toBe('/etc/robot-auth/robot-auth.env');
  });

  it('is hardened, and may write only the data directory', () => {
    expect(directives.get('NoNewPrivileges')).toBe('yes');
    expect(directives.get('ProtectSystem')).toBe('strict');
    expect(directives.get('ProtectHome')).toBe('yes');
    expect(directives.get('PrivateTmp')).toBe('yes');
    expect(directives.get('ReadWritePaths')).toBe('/var/lib/robot-auth');
    // V8 needs writable executable memory.
    expect(directives.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('stops gracefully (SIGTERM, 20 s), restarts on failure, reloads keys on SIGHUP', () => {
    expect(directives.get('KillSignal')).toBe('SIGTERM');
    expect(directives.get('TimeoutStopSec')).toBe('20');
    expect(directives.get('Restart')).toBe('on-failure');
    expect(directives.get('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
  });
});

describe('the compile cache (deploy/robot-auth.service NODE_COMPILE_CACHE, scripts/warm-compile-cache.ts)', () => {
  const unit = read('deploy/robot-auth.service');
  const cache = /^Environment=NODE_COMPILE_CACHE=(\S+)$/m.exec(unit)?.[1];

  it('is outside every path the service may write, so the service can never plant code in it', () => {
    expect(cache).toMatch(/^\/var\/cache\/robot-auth\//);
    const writable = [...unit.matchAll(/^(ReadWritePaths|CacheDirectory|StateDirectory|RuntimeDirectory)=(.*)$/gm)].flatMap((m) => m[2]!.trim().split(/\s+/));
    expect(writable).toEqual(['/var/lib/robot-auth']);
    for (const dir of writable) expect(cache!.startsWith(dir)).toBe(false);
  });

  it('once warmed, serves every module the server loads at start, the entry point and its worker aside', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-compile-cache-'));
    try {
      const env = { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: path.join(dir, 'cache') };
      execFileSync(process.execPath, [path.join(ROOT, 'scripts/warm-compile-cache.ts')], { env, stdio: 'pipe' });
      const server = await startServer({ dataDir: dir, port: await freePort(), env: { ...env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' } });
      server.child.kill('SIGTERM');
      await server.exited;
      const lines = server.stderr().split('\n');
      const served = lines.filter((l) => / was accepted/.test(l));
      const compiled = lines
        .filter((l) => / was not initialized/.test(l))
        .map((l) => /file:\/\/\S+|\/\S+\.c?js/.exec(l)?.[0] ?? l)
        .filter((f) => !/src\/(server|db\/checkpoint-worker)\.ts$/.test(f));
      expect(compiled).toEqual([]);
      expect(served.length).toBeGreaterThan(200);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
