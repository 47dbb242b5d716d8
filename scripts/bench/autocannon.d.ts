// The part of autocannon's API the bench uses (autocannon ships no types; @types/autocannon is
// not installed on purpose: one dev dependency for the bench).
declare module 'autocannon' {
  export interface RequestSpec {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Called before each request is sent; returns the request to send. */
    setupRequest?: (request: RequestSpec, context: Record<string, unknown>) => RequestSpec;
  }

  export interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    amount?: number;
    /** Seconds. */
    timeout?: number;
    pipelining?: number;
    requests?: RequestSpec[];
    headers?: Record<string, string>;
  }

  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p97_5: number;
    p99: number;
    p99_9: number;
  }

  export interface Result {
    /** Seconds actually run. */
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
    '4xx': number;
    '5xx': number;
    statusCodeStats: Record<string, { count: number }>;
    /** Whole milliseconds; 2xx responses only. */
    latency: Histogram;
    /** Per-second samples. */
    requests: Histogram & { sent: number };
    throughput: Histogram;
  }

  /** The running job: a thenable of the result that also emits progress events. */
  export interface Tracker extends PromiseLike<Result> {
    /** Every response; `responseTime` in milliseconds (fractional: the result's histograms round it down to whole ms). */
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): this;
    /** Once every connection's requests are built and before the first is sent (autocannon's clock started earlier). */
    on(event: 'start', listener: () => void): this;
    stop(): void;
  }

  export default function autocannon(options: Options): Tracker;
}
