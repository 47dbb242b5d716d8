// Summarises a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --profile`): self time by
// function and by where the code lives (our src/ file, or the node_modules package), and total
// (inclusive) time of the functions named with --focus.
//   node scripts/bench/profile-summary.ts bench-results/profiles-…/app-small.cpuprofile [--top 40] [--focus checkBearer,serveMcpRequest]
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package, one of our files, node internals, or V8 itself. */
export function placeOf(url: string): string {
  if (url === '') return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] ?? url;
  if (url.startsWith('node:')) return url;
  const ours = /\/(src|scripts)\/(.+)$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  return url;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '30' }, focus: { type: 'string' }, groups: { type: 'boolean', default: false } },
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [--top N] [--focus fn1,fn2]');
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const top = Number(values.top);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;

  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const [id, t] of selfUs) {
    const f = byId.get(id)?.callFrame;
    if (!f || f.functionName === '(idle)') continue;
    add(byFunction, `${f.functionName || '(anonymous)'}  ${placeOf(f.url)}:${f.lineNumber + 1}`, t);
    add(byPlace, placeOf(f.url), t);
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const print = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, t] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
  };
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)}%); percentages of busy time`);
  print('Self time by place', byPlace);
  print('Self time by function', byFunction);

  if (values.focus) {
    // Inclusive time: a sample counts for a function when it is anywhere on the sample's stack.
    const names = values.focus.split(',');
    const inclusive = new Map<string, number>();
    for (const [id, t] of selfUs) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const name = byId.get(cur)?.callFrame.functionName ?? '';
        if (names.includes(name) && !seen.has(name)) {
          seen.add(name);
          add(inclusive, name, t);
        }
      }
    }
    print('Total (inclusive) time of focused functions', inclusive);
  }

  if (values.groups) {
    // Each sample goes to the group of the innermost frame on its stack that belongs to a group
    // (middleware calls next() inside its own frame, so an outer match would swallow everything
    // downstream of it); samples with no such frame are "everything else".
    const grouped = new Map<string, number>();
    const OTHER = 'everything else (Node HTTP, Express core, our handlers)';
    for (const [id, t] of selfUs) {
      if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
      const stack: CallFrame[] = [];
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)?.callFrame;
        if (f) stack.push(f);
      }
      let group: string | undefined = stack.some((f) => HARNESS.includes(placeOf(f.url))) ? HARNESS_GROUP : undefined;
      // better-sqlite3's statement methods are native frames (`run`, `get`…) called straight from our
      // repositories: without this they fell into "everything else". node:crypto's native `run`
      // (signing) has a node: frame above it.
      const [leaf, caller] = stack;
      if (group === undefined && leaf && placeOf(leaf.url) === '(native / V8)' && SQLITE_NATIVE.has(leaf.functionName) && caller && !placeOf(caller.url).startsWith('node:')) {
        group = SQLITE_GROUP;
      }
      for (const f of stack) {
        if (group !== undefined) break;
        const place = placeOf(f.url);
        group = GROUPS.find((g) => g.places.includes(place) || g.functions.includes(f.functionName))?.name;
        // Our own code and Express's core, reached before any group's frame, are the rest.
        if (group === undefined && (place.startsWith('src/') || place === 'express')) group = OTHER;
      }
      add(grouped, group ?? OTHER, t);
    }
    console.log('\nPieces of the request path (innermost matching frame)');
    for (const g of [HARNESS_GROUP, ...GROUPS.map((x) => x.name), OTHER]) {
      const t = grouped.get(g) ?? 0;
      if (t > 0) console.log(`${pct(t)}  ${g}`);
    }
  }
}

/** Samples with any of these on the stack are the profiler's or the bench child's own work (refilling pools). */
const HARNESS = ['node:inspector', 'scripts/bench/server.ts', 'scripts/bench/pools.ts', 'scripts/bench/child-util.ts'];
const HARNESS_GROUP = 'profiler and bench harness (not the request path)';

const SQLITE_GROUP = 'SQLite (statements and commits)';
const SQLITE_NATIVE: ReadonlySet<string> = new Set(['run', 'get', 'all', 'iterate', 'exec', 'sqliteTransaction']);

/** The request path's pieces, as --groups reports them. */
const GROUPS: Array<{ name: string; places: string[]; functions: string[] }> = [
  { name: 'access-token signing', places: [], functions: ['signAccessToken', 'signatureOf', 'signOneShot', 'rsaSignVerify'] },
  { name: 'request log (pino)', places: ['pino', 'pino-http', '@pinojs/redact', 'sonic-boom', 'src/web/request-log.ts'], functions: [] },
  { name: 'security headers (helmet)', places: ['helmet', 'src/web/security-headers.ts'], functions: [] },
  { name: 'rate limiting', places: ['express-rate-limit', 'src/web/rate-limits.ts', 'src/oauth/token/token-rate-limits.ts'], functions: [] },
  { name: SQLITE_GROUP, places: ['better-sqlite3'], functions: [] },
  { name: 'MCP SDK and its transport', places: ['@modelcontextprotocol/sdk', '@hono/node-server', 'zod', 'ajv'], functions: [] },
  { name: 'bearer check (JWT verify, lookups)', places: ['src/resource/check-bearer.ts', 'jose'], functions: [] },
  { name: 'body parsing', places: ['body-parser', 'raw-body', 'qs', 'iconv-lite'], functions: [] },
  { name: 'JSON bodies and ETags', places: ['etag'], functions: ['stringify', 'json'] },
  { name: 'routing (router, path matching)', places: ['router', 'path-to-regexp'], functions: [] },
];



main();
