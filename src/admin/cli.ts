// `npm run admin -- <command>`: the operator CLI (see program.ts and commands.ts; --help lists everything).
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
