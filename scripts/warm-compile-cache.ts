// Fills Node's compile cache (NODE_COMPILE_CACHE: the type-stripped source and V8's code cache of
// every module) for the service, at deploy time, so that each start reads compiled code instead of
// stripping types and compiling again (issue 11: start-up under 1 s, less idle RSS).
// Run by the deploy as the service user, with the unit's NODE_COMPILE_CACHE (Node names the cache's
// subdirectory after the Node version and the user id, so another user's cache would not be used):
//   sudo -u robot-auth NODE_COMPILE_CACHE=/var/cache/robot-auth/compile node scripts/warm-compile-cache.ts
// then hand the directory to root (docs/operations.md): the service reads it and, under the unit's
// ProtectSystem=strict, can never write it, so no code can be planted in it from the service. A cache
// left stale by an update is harmless (Node checks each entry against the source and compiles afresh).
// It imports every module under src/ (the lazily loaded ones too: the ATProto client, the MCP SDK),
// except the entry points and the checkpoint worker, whose top level runs the program.
import fs from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Files whose top level starts something; compiled at each start (they are small). */
const ENTRY_POINTS = new Set(['src/server.ts', 'src/admin/cli.ts', 'src/db/checkpoint-worker.ts']);

if (!process.env.NODE_COMPILE_CACHE) {
  console.error('Set NODE_COMPILE_CACHE to the directory the service reads (deploy/robot-auth.service), e.g.\n  sudo -u robot-auth NODE_COMPILE_CACHE=/var/cache/robot-auth/compile node scripts/warm-compile-cache.ts');
  process.exit(2);
}
const directory = module.getCompileCacheDir();
if (directory === undefined) {
  console.error(`Node did not enable its compile cache in ${process.env.NODE_COMPILE_CACHE} (not writable by this user?). Run it with NODE_DEBUG_NATIVE=COMPILE_CACHE to see why.`);
  process.exit(1);
}

const files = fs
  .readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
  .map((f) => `src/${f.split(path.sep).join('/')}`)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !ENTRY_POINTS.has(f))
  .sort();
for (const file of files) await import(pathToFileURL(path.join(ROOT, file)).href);
// better-sqlite3 loads its native addon (through `bindings`) when the first database opens.
const { openDatabase } = await import('../src/db/open.ts');
openDatabase(':memory:').close();
module.flushCompileCache();
console.log(`compile cache for ${files.length} modules of src/ and what they import: ${directory}`);
