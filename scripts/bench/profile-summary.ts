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
    options: { top: { type: 'string', default: '30' }, focus: { type: 'string' } },
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
}

main();
