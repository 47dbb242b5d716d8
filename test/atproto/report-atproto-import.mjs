// Preload for test/atproto/lazy-client.test.ts: writes a marker to stderr when anything resolves a
// module of @atproto/oauth-client-node, so a test can tell that the library was (not) loaded.
import module from 'node:module';
import fs from 'node:fs';

module.registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes('/@atproto/oauth-client-node/')) fs.writeSync(2, `ATPROTO-LIBRARY-LOADED ${specifier}\n`);
    return resolved;
  },
});
