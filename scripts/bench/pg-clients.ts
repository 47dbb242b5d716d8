// Issue 12: which PostgreSQL client, on measurement. Times `pg` (node-postgres, pg.Pool) against
// `postgres` (porsager/postgres.js) on the same server, in the same run, interleaved round by round,
// with prepared statements on both (pg: named statements; postgres.js: prepare: true, its default),
// bigint parsed to a JS number on both (as src/db/postgres/pool.ts does), for the statements that matter:
//  - a point SELECT by primary key (a grant lookup);
//  - an INSERT (an audit_log row);
//  - a refresh rotation's transaction: SELECT … FOR UPDATE, UPDATE … RETURNING, UPDATE, INSERT.
// Each case runs serially (1 connection: latency) and with 32 callers on a 10-connection pool
// (throughput). Reports the median round's operations per second and the pg/postgres ratio.
//
//   node scripts/bench/pg-clients.ts [--url postgres://…] [--rounds 5] [--ops 1500]
// Without --url it starts a throw-away server (test/support/postgres.ts; Debian's postgresql).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createPool } from '../../src/db/postgres/pool.ts';
import { migratePostgres } from '../../src/db/postgres/migrate.ts';
import { startPostgres } from '../../test/support/postgres.ts';

const { values } = parseArgs({
  options: { url: { type: 'string' }, rounds: { type: 'string', default: '5' }, ops: { type: 'string', default: '1500' } },
});
const ROUNDS = Number(values.rounds);
const OPS = Number(values.ops);
const POOL = 10;
const CONCURRENCY = 32;
const GRANTS = 2000;

interface Client {
  name: string;
  select(id: string): Promise<unknown>;
  insert(i: number): Promise<unknown>;
  rotate(grantId: string, oldHash: string, newHash: string, now: number): Promise<unknown>;
  end(): Promise<void>;
}

const SQL = {
  select: 'SELECT id, client_id, user_did, wiki_slug, scope, expires_at, revoked_at FROM oauth_grants WHERE id = $1',
  insert: "INSERT INTO audit_log (at, event, did, client_id, actor, detail) VALUES ($1, 'token_issued', $2, $3, 'client', $4)",
  lock: 'SELECT hash, grant_id, expires_at, rotated_at FROM refresh_tokens WHERE hash = $1 FOR UPDATE',
  markRotated: 'UPDATE refresh_tokens SET rotated_at = $2, successor_hash = $3 WHERE hash = $1 RETURNING grant_id',
  touchGrant: 'UPDATE oauth_grants SET last_used_at = $2 WHERE id = $1',
  insertToken: 'INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)',
};

function nodePostgres(url: string): Client {
  const pool = createPool({ url, poolSize: POOL });
  return {
    name: 'pg',
    select: (id) => pool.query({ name: 'select', text: SQL.select, values: [id] }),
    insert: (i) => pool.query({ name: 'insert', text: SQL.insert, values: [i, `did:plc:${i}`, 'client', '{"n":1}'] }),
    async rotate(grantId, oldHash, newHash, now) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query({ name: 'lock', text: SQL.lock, values: [oldHash] });
        await c.query({ name: 'markRotated', text: SQL.markRotated, values: [oldHash, now, newHash] });
        await c.query({ name: 'touchGrant', text: SQL.touchGrant, values: [grantId, now] });
        await c.query({ name: 'insertToken', text: SQL.insertToken, values: [newHash, grantId, now, now + 86400] });
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      } finally {
        c.release();
      }
    },
    end: () => pool.end(),
  };
}

function postgresJs(url: string): Client {
  const sql = postgres(url, {
    max: POOL,
    prepare: true,
    onnotice: () => {},
    connection: { application_name: 'robot-auth-bench' },
    types: { int8: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
  return {
    name: 'postgres',
    select: (id) => sql.unsafe(SQL.select, [id], { prepare: true }),
    insert: (i) => sql.unsafe(SQL.insert, [i, `did:plc:${i}`, 'client', '{"n":1}'], { prepare: true }),
    rotate: (grantId, oldHash, newHash, now) =>
      sql.begin(async (tx) => {
        await tx.unsafe(SQL.lock, [oldHash], { prepare: true });
        await tx.unsafe(SQL.markRotated, [oldHash, now, newHash], { prepare: true });
        await tx.unsafe(SQL.touchGrant, [grantId, now], { prepare: true });
        await tx.unsafe(SQL.insertToken, [newHash, grantId, now, now + 86400], { prepare: true });
      }),
    end: () => sql.end({ timeout: 5 }),
  };
}

async function seed(url: string): Promise<void> {
  const pool = createPool({ url, poolSize: 2 });
  try {
    await migratePostgres(pool);
    await pool.query("INSERT INTO users (did, handle, username, created_at, last_login_at) VALUES ('did:plc:bench', 'b.test', 'bench', 1, 1)");
    await pool.query("INSERT INTO wikis (slug, owner_did, created_at) VALUES ('bench', 'did:plc:bench', 1)");
    await pool.query("INSERT INTO oauth_clients (client_id, kind, metadata, created_at) VALUES ('client', 'registered', '{}', 1)");
    await pool.query(
      `INSERT INTO oauth_grants (id, client_id, user_did, wiki_slug, resource, scope, created_at, last_used_at, expires_at)
       SELECT 'g' || i, 'client', 'did:plc:bench', 'bench', 'https://bench.example/mcp', 'mcp', 1, 1, 4102444800 FROM generate_series(1, $1) i`,
      [GRANTS],
    );
    await pool.query(
      `INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) SELECT 't' || i || '-0', 'g' || i, 1, 4102444800 FROM generate_series(1, $1) i`,
      [GRANTS],
    );
  } finally {
    await pool.end();
  }
}

/** Per grant, the current refresh-token hash (each rotation moves it on). */
const heads = new Map<string, string>();

async function run(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) await op(i);
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

let counter = 0;
const cases: Record<string, (c: Client) => (i: number) => Promise<unknown>> = {
  'point SELECT by primary key': (c) => (i) => c.select(`g${(i % GRANTS) + 1}`),
  INSERT: (c) => (i) => c.insert(i),
  'transaction: FOR UPDATE + UPDATE … RETURNING + 2': (c) => () => {
    // Each caller rotates a grant nobody else is rotating at that moment (no lock waits measured).
    const g = `g${(counter++ % GRANTS) + 1}`;
    const old = heads.get(g) ?? `t${g.slice(1)}-0`;
    const fresh = randomBytes(12).toString('hex');
    heads.set(g, fresh);
    return c.rotate(g, old, fresh, Math.floor(Date.now() / 1000));
  },
};

async function main(): Promise<void> {
  const server = values.url ? undefined : await startPostgres();
  const url = values.url ?? (await server!.createDatabase('bench_clients'));
  try {
    await seed(url);
    const clients = [nodePostgres(url), postgresJs(url)];
    // Warm-up: connections opened, statements prepared on every connection.
    for (const c of clients) for (const make of Object.values(cases)) await run(300, CONCURRENCY, make(c));
    const results = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [caseName, make] of Object.entries(cases)) {
        for (const [mode, concurrency] of [['serial', 1], [`${CONCURRENCY} callers`, CONCURRENCY]] as const) {
          // Alternate which client goes first, so neither always runs on a warmer machine.
          const order = round % 2 === 0 ? clients : [...clients].reverse();
          for (const c of order) {
            const key = `${caseName} | ${mode} | ${c.name}`;
            const list = results.get(key) ?? [];
            list.push(await run(mode === 'serial' ? Math.ceil(OPS / 3) : OPS, concurrency, make(c)));
            results.set(key, list);
          }
        }
      }
    }
    for (const c of clients) await c.end();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`pg ${pkgVersion('pg')} vs postgres ${pkgVersion('postgres')}; server ${server ? 'local (test/support/postgres.ts)' : 'given'}; ${ROUNDS} rounds, median ops/s`);
    console.log(`${'case'.padEnd(52)} ${'mode'.padEnd(11)} ${'pg'.padStart(8)} ${'postgres'.padStart(9)} ${'pg/postgres'.padStart(12)}`);
    for (const caseName of Object.keys(cases)) {
      for (const mode of ['serial', `${CONCURRENCY} callers`]) {
        const a = median(results.get(`${caseName} | ${mode} | pg`)!);
        const b = median(results.get(`${caseName} | ${mode} | postgres`)!);
        console.log(`${caseName.padEnd(52)} ${mode.padEnd(11)} ${a.toFixed(0).padStart(8)} ${b.toFixed(0).padStart(9)} ${(a / b).toFixed(2).padStart(12)}`);
      }
    }
  } finally {
    await server?.stop();
  }
}

function pkgVersion(name: string): string {
  try {
    const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

await main();
