// Issue 9, finding 1 (Caddy's part): an SSRF that reaches http://localhost:2019/stop took every site
// down, because the shipped Caddyfile left Caddy's admin API on its default TCP address. It is now a
// unix socket (CADDY_ADMIN, default unix//run/caddy/admin.sock): no HTTP request can reach it, while
// `caddy reload` (and Debian's `systemctl reload caddy`) still can.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/app.ts';
import { adaptCaddyfile, CADDYFILE, caddyBinary, listeningTcpPorts, runCaddy, send, startCaddy, type RunningCaddy } from '../deploy/support.ts';

/** Every `listen` address in a Caddy JSON config. */
function listenAddresses(config: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown, key?: string): void => {
    if (key === 'listen' && typeof node === 'string') found.push(node);
    if (Array.isArray(node)) node.forEach((v) => walk(v, key === 'listen' ? key : undefined));
    else if (typeof node === 'object' && node !== null) for (const [k, v] of Object.entries(node)) walk(v, k);
  };
  walk(config);
  return found;
}

describe('Caddy’s admin endpoint with the shipped Caddyfile', () => {
  it('is a unix socket by default: no TCP address, no :2019', () => {
    const config = adaptCaddyfile({ PLATFORM_DOMAIN: 'wiki.example' }) as { admin?: { listen?: string; disabled?: boolean } };
    expect(config.admin?.listen).toBe('unix//run/caddy/admin.sock');
    expect(listenAddresses(config).filter((a) => !a.startsWith('unix/'))).toEqual([':443']);
    expect(JSON.stringify(config)).not.toContain('2019');
  });

  describe('running', () => {
    let dir: string;
    let socket: string;
    let caddy: RunningCaddy;
    let env: Record<string, string>;
    beforeAll(async () => {
      caddyBinary();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-admin-'));
      socket = path.join(dir, 'admin.sock');
      const port = await freePort();
      env = { SITE_SCHEME: 'http', CADDY_BIND: '127.0.0.1', PLATFORM_DOMAIN: `localhost:${port}`, APP_ADDRESS: '127.0.0.1:9', CADDY_ADMIN: `unix/${socket}` };
      caddy = await startCaddy(port, env);
    });
    afterAll(async () => {
      await caddy?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('listens on the site port only; localhost:2019/stop is refused and Caddy keeps serving', async () => {
      expect(caddy.pid).toBeGreaterThan(0);
      expect(fs.statSync(socket).isSocket()).toBe(true);
      expect(listeningTcpPorts(caddy.pid)).toEqual([caddy.port]);
      // The request the SSRF made: nothing answers it.
      for (const host of ['127.0.0.1', '[::1]']) {
        await expect(fetch(`http://${host}:2019/stop`, { method: 'POST' })).rejects.toThrow();
      }
      const stillUp = await send(caddy.port, { host: `localhost:${caddy.port}`, path: '/internal/tls-ask' });
      expect(stillUp.status).toBe(404);
    });

    it('`caddy reload --force` (Debian’s ExecReload) with the same environment still works, through the socket', async () => {
      const reload = runCaddy(['reload', '--config', CADDYFILE, '--adapter', 'caddyfile', '--force'], env);
      expect(reload.status, reload.stderr).toBe(0);
      const deadline = Date.now() + 3000;
      while (!caddy.log().includes('"msg":"load complete"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(caddy.log()).toContain('"msg":"load complete"');
      expect(listeningTcpPorts(caddy.pid)).toEqual([caddy.port]);
    });
  });
});
