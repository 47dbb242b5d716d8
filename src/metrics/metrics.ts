// Prometheus metrics (issue 13 item 2). This module owns the registry: domain code never imports
// prom-client, it calls the small typed functions of `Metrics` (ctx.metrics, or a narrow
// `Pick<AppContext, 'metrics'>`). Every label takes values from a fixed set written here or in
// code (route groups, grant types, reasons, budget names, fault kinds): never a path, a client_id
// or an address, so the number of series stays bounded.
// The registry is served on its own listener (metrics-server.ts), never on the public port.
import client from 'prom-client';
import type { StorageFaultKind } from '../db/faults.ts';

export type SignInStage = 'started' | 'completed' | 'failed';
export type DocumentOutcome = 'fetched' | 'refused' | 'failed';
export type RevocationBy = 'person' | 'client' | 'admin' | 'replay';
export type RateLimitKey = 'address' | 'client' | 'grant';

export interface Metrics {
  readonly registry: client.Registry;
  /** One per HTTP response: its route group (route-groups.ts), status and duration. */
  request(group: string, status: number, seconds: number): void;
  tokenIssued(grantType: 'authorization_code' | 'refresh_token'): void;
  refreshReplay(reason: string): void;
  codeReplay(): void;
  grantRevoked(by: RevocationBy): void;
  signIn(stage: SignInStage, reason?: string): void;
  clientDocument(outcome: DocumentOutcome): void;
  rateLimited(budget: string, key: RateLimitKey): void;
  /** Duration of one outermost write (a transaction or a lone statement), in seconds. */
  databaseWrite(seconds: number): void;
  storageFault(kind: StorageFaultKind): void;
  auditEvent(event: string): void;
  /** Adds the process collectors (event loop lag, heap, RSS, CPU, file descriptors, GC): once, for the served registry. */
  collectProcessDefaults(): void;
}

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new client.Counter({ name: `robot_auth_${name}`, help, labelNames, registers: [registry] });

  const requests = new client.Histogram({
    name: 'robot_auth_http_request_duration_seconds',
    help: 'HTTP requests by route group and status; _count is the request count.',
    labelNames: ['group', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const writes = new client.Histogram({
    name: 'robot_auth_db_write_duration_seconds',
    help: 'SQLite write time: each outermost transaction or lone write statement.',
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  const tokens = counter('tokens_issued_total', 'Token responses by grant type.', ['grant_type']);
  const refreshReplays = counter('refresh_replays_total', 'Refresh tokens replayed after rotation (the grant is revoked).', ['reason']);
  const codeReplays = counter('code_replays_total', 'Authorization codes used twice (the grant is revoked).');
  const revocations = counter('grants_revoked_total', 'Grants revoked, by who revoked them.', ['by']);
  const signIns = counter('sign_ins_total', 'ATProto sign-ins: started, completed, failed (by reason).', ['stage', 'reason']);
  const documents = counter('client_metadata_documents_total', 'Client ID metadata document fetches by outcome.', ['outcome']);
  const limited = counter('rate_limited_total', 'Requests refused with 429, by budget and what it is keyed by.', ['budget', 'key']);
  const faults = counter('storage_faults_total', 'Database operations that failed for a storage fault, by kind.', ['kind']);
  const audits = counter('audit_events_total', 'Audit log events recorded, by event.', ['event']);
  let defaults = false;
  // The request histogram's child per (group, status), as prom-client's labels() would find it: it
  // hashes the label values on every call, a few µs of each light request (docs/benchmarks.md, round 5).
  const requestChildren = new Map<string, client.Histogram.Internal<'group' | 'status'>>();
  const requestChild = (group: string, status: number) => {
    const key = `${group} ${status}`;
    let child = requestChildren.get(key);
    if (child === undefined) {
      child = requests.labels(group, String(status));
      requestChildren.set(key, child);
    }
    return child;
  };

  return {
    registry,
    request: (group, status, seconds) => requestChild(group, status).observe(seconds),
    tokenIssued: (grantType) => tokens.labels(grantType).inc(),
    refreshReplay: (reason) => refreshReplays.labels(reason).inc(),
    codeReplay: () => codeReplays.inc(),
    grantRevoked: (by) => revocations.labels(by).inc(),
    signIn: (stage, reason = '') => signIns.labels(stage, reason).inc(),
    clientDocument: (outcome) => documents.labels(outcome).inc(),
    rateLimited: (budget, key) => limited.labels(budget, key).inc(),
    databaseWrite: (seconds) => writes.observe(seconds),
    storageFault: (kind) => faults.labels(kind).inc(),
    auditEvent: (event) => audits.labels(event).inc(),
    collectProcessDefaults() {
      if (defaults) return;
      defaults = true;
      client.collectDefaultMetrics({ register: registry, prefix: 'robot_auth_' });
    },
  };
}
