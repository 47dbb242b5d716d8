// One log line per request, with our id (X-Request-Id) and the URL's secrets cut out; a successful
// /auth/verify (one per request to every wiki page, logged by Caddy already) only at debug (issue 13).
import express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/web/log.ts';
import { requestLog } from '../../src/web/request-log.ts';

interface Line {
  level: number;
  msg: string;
  req: { id: string; method: string; url: string; host: string };
  res: { statusCode: number };
  responseTime: number;
}

function appLogging(level: string) {
  const lines: Line[] = [];
  const log = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line) as Line) });
  const app = express();
  app.use(requestLog(log));
  app.get('/auth/verify', (req, res) => res.status(req.query.ok === '1' ? 200 : 401).end());
  app.get('/boom', (_req, res) => res.status(500).end());
  app.get('/page', (_req, res) => res.send('ok'));
  return { app, lines };
}

describe('requestLog', () => {
  it('logs each request once at info, with its id, method, redacted URL, host and status', async () => {
    const { app, lines } = appLogging('info');
    const res = await request(app).get('/page?code=secret&x=1').set('Host', 'example.test');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: { id: res.headers['x-request-id'], method: 'GET', url: '/page?code=…&x=1', host: 'example.test' },
      res: { statusCode: 200 },
    });
    expect(typeof lines[0]!.responseTime).toBe('number');
  });

  it('a successful /auth/verify is logged at debug only; a refused one at info; a 5xx at error', async () => {
    const info = appLogging('info');
    await request(info.app).get('/auth/verify?ok=1').expect(200);
    expect(info.lines).toHaveLength(0);
    await request(info.app).get('/auth/verify').expect(401);
    await request(info.app).get('/boom').expect(500);
    expect(info.lines.map((l) => [l.req.url, l.level])).toEqual([
      ['/auth/verify', 30],
      ['/boom', 50],
    ]);

    const debug = appLogging('debug');
    const ok = await request(debug.app).get('/auth/verify?ok=1').expect(200);
    expect(debug.lines).toMatchObject([{ level: 20, req: { id: ok.headers['x-request-id'] }, res: { statusCode: 200 } }]);
  });

  it("writes through the service logger's stream, base fields and level, which still redacts every other line", async () => {
    const written: string[] = [];
    const root = createLogger('info', { write: (line: string) => void written.push(line) });
    const app = express();
    app.use(requestLog(root));
    app.get('/page', (_req, res) => res.send('ok'));
    await request(app).get('/page?refresh_token=r1').set('Authorization', 'Bearer secret-token').expect(200);
    root.info({ req: { headers: { authorization: 'Bearer secret-token' } }, body: { refresh_token: 'r2' } }, 'other');
    root.level = 'warn';
    await request(app).get('/page').expect(200);
    const lines = written.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ service: 'robot-auth', level: 30, msg: 'request completed', req: { url: '/page?refresh_token=…' } });
    expect(lines[1]).toMatchObject({ msg: 'other', req: { headers: { authorization: '[redacted]' } }, body: { refresh_token: '[redacted]' } });
    expect(written.join('')).not.toContain('secret-token');
  });
});
