// How much CPU other processes used during a run (Linux /proc): the machine's busy time minus the
// bench's own processes', in cores. On a shared 2-core machine a test suite running beside the
// bench distorts every figure; runs with more than NOISY_CORES of foreign load are repeated.
import fs from 'node:fs';

/** Foreign load above which a run counts as disturbed. */
export const NOISY_CORES = 0.15;

/** Linux USER_HZ: /proc times are in these ticks. */
const TICKS_PER_SECOND = 100;

interface Sample {
  wallMs: number;
  busyTicks: number;
  ownTicks: number;
  serverTicks: number;
  runnerTicks: number;
  /** Per database process: a backend that exits during the run must not take its earlier ticks off the sum. */
  databaseTicks: Map<number, number>;
}

export interface NoiseReading {
  /** Average cores other processes used. */
  foreignCores: number;
  /** CPU seconds the app process (server child, all its threads) used. */
  serverCpuSeconds: number;
  /** Cores the load generator (this process, autocannon) used: near 1, it and not the app set the pace. */
  loadGeneratorCores: number;
  /** CPU seconds the database server's processes used (PostgreSQL runs; 0 otherwise). */
  databaseCpuSeconds: number;
}

function machineBusyTicks(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, ...fields] = line.trim().split(/\s+/);
    const n = fields.map(Number);
    // user nice system idle iowait irq softirq steal …: interrupt time (loopback traffic is mostly
    // softirq, ours) is left out, as it is attributed to no process.
    const [user = 0, nice = 0, system = 0] = n;
    return user + nice + system;
  } catch {
    return undefined;
  }
}

function processTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) in parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14 and 15)
  } catch {
    return 0;
  }
}

export class CpuNoise {
  private start: Sample | undefined;
  private readonly pids: () => number[];
  private readonly serverPid: () => number;
  private readonly databasePids: () => number[];

  /**
   * `pids`: the bench's own processes (their CPU time is not noise); `serverPid`: the app's;
   * `databasePids`: the PostgreSQL server's (ours too, and counted apart).
   */
  constructor(pids: () => number[], serverPid: () => number, databasePids: () => number[] = () => []) {
    this.pids = pids;
    this.serverPid = serverPid;
    this.databasePids = databasePids;
  }

  private sample(): Sample | undefined {
    const busy = machineBusyTicks();
    if (busy === undefined) return undefined;
    const databaseTicks = new Map(this.databasePids().map((pid) => [pid, processTicks(pid)]));
    return {
      wallMs: performance.now(),
      busyTicks: busy,
      ownTicks: this.pids().reduce((sum, pid) => sum + processTicks(pid), 0),
      serverTicks: processTicks(this.serverPid()),
      runnerTicks: processTicks(process.pid),
      databaseTicks,
    };
  }

  begin(): void {
    this.start = this.sample();
  }

  /** What happened since begin(); undefined where /proc is not there. */
  end(): NoiseReading | undefined {
    const end = this.sample();
    if (!this.start || !end) return undefined;
    const seconds = (end.wallMs - this.start.wallMs) / 1000;
    // The database's processes: each one's ticks since the start (all of them for one forked since);
    // one that exited during the run takes the ticks it spent in it along (idle pool connections,
    // closed after 10 s, spend next to nothing).
    let databaseTicks = 0;
    for (const [pid, ticks] of end.databaseTicks) databaseTicks += ticks - (this.start.databaseTicks.get(pid) ?? 0);
    const foreign = end.busyTicks - this.start.busyTicks - (end.ownTicks - this.start.ownTicks) - databaseTicks;
    return {
      foreignCores: Math.max(0, foreign / TICKS_PER_SECOND / seconds),
      serverCpuSeconds: (end.serverTicks - this.start.serverTicks) / TICKS_PER_SECOND,
      loadGeneratorCores: (end.runnerTicks - this.start.runnerTicks) / TICKS_PER_SECOND / seconds,
      databaseCpuSeconds: databaseTicks / TICKS_PER_SECOND,
    };
  }
}
