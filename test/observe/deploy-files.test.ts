// The shipped Grafana dashboard and Prometheus alert rules name only metrics the service exports
// (a renamed metric would leave a panel or an alert silently empty).
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { ROOT } from '../ops/server-process.ts';

async function exportedNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  metrics.collectProcessDefaults();
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${m.name}${suffix}`);
  }
  return names;
}

const referenced = (text: string) => new Set(text.match(/robot_auth_[a-z0-9_]+/g) ?? []);

describe('deploy/ observability files', () => {
  it('the alert rules parse and use exported metrics only', async () => {
    const text = fs.readFileSync(path.join(ROOT, 'deploy/prometheus-alerts.yml'), 'utf8');
    const rules = parse(text) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(expect.arrayContaining(['RobotAuthHigh5xxRate', 'RobotAuthRefreshReplays', 'RobotAuthSignInFailures', 'RobotAuthStorageFault', 'RobotAuthSlowP99']));
    const names = await exportedNames();
    for (const name of referenced(text)) expect(names, name).toContain(name);
  });

  it('the Grafana dashboard is JSON and uses exported metrics only', async () => {
    const text = fs.readFileSync(path.join(ROOT, 'deploy/grafana-dashboard.json'), 'utf8');
    const dashboard = JSON.parse(text) as { panels: unknown[] };
    expect(dashboard.panels.length).toBeGreaterThan(5);
    const names = await exportedNames();
    for (const name of referenced(text)) expect(names, name).toContain(name);
  });
});
