// The runner's side of a bench child: start it (pinned to one CPU where there are two or more),
// send it requests, wait for its answers, stop it.
import { spawn, type ChildProcess } from 'node:child_process';
import type { ChildRequestBody, ChildResponse } from './protocol.ts';

export interface ChildOptions {
  script: string;
  env: NodeJS.ProcessEnv;
  /** Extra node flags (--cpu-prof, --expose-gc). */
  execArgv?: string[];
  /** CPU to pin the child to with taskset; undefined: no pinning. */
  cpu?: number;
}

export class BenchChild {
  readonly proc: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly messageWaiters: ((msg: Record<string, unknown>) => boolean)[] = [];
  private exited: Error | undefined;

  constructor(options: ChildOptions) {
    const nodeArgs = [...(options.execArgv ?? []), options.script];
    const [command, args] =
      options.cpu === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(options.cpu), process.execPath, ...nodeArgs]];
    // stdout (the app's request log) goes nowhere; stderr shows crashes.
    this.proc = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: options.env });
    this.proc.on('message', (raw) => {
      const msg = raw as Record<string, unknown>;
      if (typeof msg.id === 'number') {
        const reply = msg as unknown as ChildResponse;
        const waiter = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (reply.ok) waiter?.resolve(reply.result);
        else waiter?.reject(new Error(`bench child: ${reply.error}`));
        return;
      }
      const i = this.messageWaiters.findIndex((w) => w(msg));
      if (i !== -1) this.messageWaiters.splice(i, 1);
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = new Error(`bench child ${options.script} exited (code ${code}, signal ${signal})`);
      for (const w of this.pending.values()) w.reject(this.exited);
      this.pending.clear();
    });
  }

  /** The first message (not a reply) of this `type`. */
  waitFor<T>(type: string, timeoutMs = 600_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench child: no "${type}" message within ${timeoutMs} ms`)), timeoutMs);
      const onExit = () => {
        clearTimeout(timer);
        reject(this.exited ?? new Error('bench child exited'));
      };
      this.proc.once('exit', onExit);
      this.messageWaiters.push((msg) => {
        if (msg.type !== type) return false;
        clearTimeout(timer);
        this.proc.off('exit', onExit);
        resolve(msg as T);
        return true;
      });
    });
  }

  request<T>(body: ChildRequestBody): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
      // With a callback, a child that has just exited (the memory child exits after its report) is a
      // rejection here instead of an unhandled 'error' event (EPIPE) that ends the bench.
      this.proc.send({ ...body, id }, (err) => {
        if (!err) return;
        this.pending.delete(id);
        reject(err);
      });
    });
  }

  /** Asks the child to exit (so a CPU profile gets written) and waits; kills it after 15 s. */
  async stop(): Promise<void> {
    if (this.exited || this.proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    try {
      await this.request({ type: 'exit' });
    } catch {
      // It may exit before its answer arrives.
    }
    await exited;
    clearTimeout(killer);
  }
}
