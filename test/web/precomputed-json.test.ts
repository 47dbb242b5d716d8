// A precomputed JSON document is served byte for byte as res.json would, with the same ETag, and a
// matching If-None-Match still gets 304.
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { precomputeJson, sendJson } from '../../src/web/http.ts';

describe('precomputeJson + sendJson', () => {
  it('the same body, Content-Type and ETag as res.json; 304 on If-None-Match', async () => {
    const value = { issuer: 'https://auth.example', list: ['a', 'b'], n: 1, nested: { é: 'ü' } };
    const doc = precomputeJson(value);
    const app = express();
    app.get('/ours', (_req, res) => sendJson(res, doc));
    app.get('/express', (_req, res) => res.json(value));
    const ours = await request(app).get('/ours').expect(200);
    const theirs = await request(app).get('/express').expect(200);
    expect(ours.text).toBe(theirs.text);
    expect(ours.headers['content-type']).toBe(theirs.headers['content-type']);
    expect(ours.headers.etag).toBe(theirs.headers.etag);
    await request(app).get('/ours').set('If-None-Match', String(ours.headers.etag)).expect(304);
  });
});
