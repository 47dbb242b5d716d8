// node:http and node:https for the modules loaded at start, taken as Node's own (CommonJS) objects
// instead of `import http from 'node:http'`. An ESM import of node:http builds its module namespace
// by reading every export, and three of them (WebSocket, CloseEvent, MessageEvent) are getters that
// load Node's bundled undici: ~9 MiB of RSS and ~50 ms of CPU at every start, for a client nothing
// here uses (issue 11, docs/benchmarks.md "Round 3: memory and start-up"). Types: `import type`
// from 'node:http' as usual (erased, loads nothing).
export const http = process.getBuiltinModule('node:http');
export const https = process.getBuiltinModule('node:https');
