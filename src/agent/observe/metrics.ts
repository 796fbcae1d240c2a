/**
 * The agent's metrics and their Prometheus text rendering. A small registry
 * instance (no module-level state) created by `run` and handed to the
 * reconciler and the health server.
 * @module
 */

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `{${keys.map((k) => `${k}="${esc(labels[k]!)}"`).join(",")}}`;
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  values: Map<string, number>;
  buckets?: number[];
  /** Histogram state per label set: bucket counts, sum, count. */
  hist?: Map<string, { counts: number[]; sum: number; count: number }>;
}

/** Reconcile duration buckets, seconds: a pass takes ~1 ms without changes, more with 5,000 routes. */
export const DURATION_BUCKETS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

/** A registry of counters, gauges and histograms. */
export class Metrics {
  readonly #families = new Map<string, Family>();

  #family(name: string, help: string, type: Family["type"], buckets?: number[]): Family {
    let f = this.#families.get(name);
    if (!f) {
      f = { name, help, type, values: new Map(), buckets, hist: buckets ? new Map() : undefined };
      this.#families.set(name, f);
    }
    return f;
  }

  /** Declares a metric so it renders (as 0) before its first change. */
  declare(
    name: string,
    help: string,
    type: "counter" | "gauge",
    labels: Labels = {},
  ): void {
    const f = this.#family(name, help, type);
    const k = labelText(labels);
    if (!f.values.has(k)) f.values.set(k, 0);
  }

  /** Adds to a counter. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.#family(name, help, "counter");
    const k = labelText(labels);
    f.values.set(k, (f.values.get(k) ?? 0) + by);
  }

  /** Sets a gauge. */
  set(name: string, help: string, value: number, labels: Labels = {}): void {
    this.#family(name, help, "gauge").values.set(labelText(labels), value);
  }

  /** Drops every label set of a gauge (before setting the current ones). */
  resetGauge(name: string): void {
    this.#families.get(name)?.values.clear();
  }

  /** Records one observation in a histogram. */
  observe(name: string, help: string, value: number, buckets = DURATION_BUCKETS): void {
    const f = this.#family(name, help, "histogram", buckets);
    const k = "";
    const h = f.hist!.get(k) ?? { counts: f.buckets!.map(() => 0), sum: 0, count: 0 };
    f.buckets!.forEach((b, i) => {
      if (value <= b) h.counts[i]!++;
    });
    h.sum += value;
    h.count++;
    f.hist!.set(k, h);
  }

  /** Current value of a counter or gauge (0 when unset), for tests and status. */
  value(name: string, labels: Labels = {}): number {
    return this.#families.get(name)?.values.get(labelText(labels)) ?? 0;
  }

  /** Observation count of a histogram. */
  count(name: string): number {
    return this.#families.get(name)?.hist?.get("")?.count ?? 0;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const f of [...this.#families.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      if (f.type === "histogram") {
        for (const h of f.hist!.values()) {
          f.buckets!.forEach((b, i) => out.push(`${f.name}_bucket{le="${b}"} ${h.counts[i]}`));
          out.push(`${f.name}_bucket{le="+Inf"} ${h.count}`);
          out.push(`${f.name}_sum ${h.sum}`, `${f.name}_count ${h.count}`);
        }
      } else {
        for (const [k, v] of [...f.values].sort(([a], [b]) => a.localeCompare(b))) {
          out.push(`${f.name}${k} ${v}`);
        }
      }
    }
    return out.join("\n") + "\n";
  }
}

/** Metric names, in one place so tests, docs and dashboards agree. */
export const M = {
  routesDesired: "hostgate_routes_desired",
  routesInstalled: "hostgate_routes_installed",
  routeWrites: "hostgate_route_writes_total",
  routeConflicts: "hostgate_route_conflicts",
  peersSkipped: "hostgate_peers_skipped",
  reconcileDuration: "hostgate_reconcile_duration_seconds",
  reconciles: "hostgate_reconciles_total",
  reconcileErrors: "hostgate_reconcile_errors_total",
  firewallWrites: "hostgate_firewall_writes_total",
  conflistWrites: "hostgate_conflist_writes_total",
  pluginInstalls: "hostgate_plugin_installs_total",
  datastoreEvents: "hostgate_datastore_events_total",
  datastoreConnected: "hostgate_datastore_connected",
  routeEvents: "hostgate_route_monitor_events_total",
  ready: "hostgate_ready",
  vxlanWrites: "hostgate_vxlan_writes_total",
  vxlanPeers: "hostgate_vxlan_peers",
} as const;
