// What an `npm run admin -- …` run prints, collected for assertions (the CLI takes its io as a parameter).

/** Collects what a CLI run prints. */
export function captureIo(env: Record<string, string | undefined>, cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { env, cwd, out: (text: string) => out.push(text), err: (text: string) => err.push(text) },
    stdout: () => out.join('\n'),
    stderr: () => err.join('\n'),
  };
}
