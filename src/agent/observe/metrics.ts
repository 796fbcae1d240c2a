/**
 * The agent's metrics registry and its Prometheus text rendering. An instance
 * (no module-level state) created by `run` and handed to the reconciler and
 * the health server; the metrics themselves are declared in registry.ts.
 * @module
 */

import { ALL_METRICS, type MetricDef } from "./registry.ts";

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `{${keys.map((k) => `${k}="${esc(labels[k]!)}"`).join(",")}}`;
}

interface MetricFamily {
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

/** A registry of counters, gauges and histograms, declared in registry.ts. */
export class Metrics {
  readonly #families = new Map<string, MetricFamily>();

  /** Declares every catalog metric, so each renders before its first change. */
  constructor(defs: readonly MetricDef[] = ALL_METRICS) {
    for (const d of defs) {
      const f = this.#family(d);
      if (d.type !== "histogram") f.values.set("", 0);
    }
  }

  #family(d: MetricDef): MetricFamily {
    let f = this.#families.get(d.name);
    if (!f) {
      const buckets = d.type === "histogram" ? DURATION_BUCKETS : undefined;
      f = {
        name: d.name,
        help: d.help,
        type: d.type,
        values: new Map(),
        buckets,
        hist: buckets ? new Map() : undefined,
      };
      this.#families.set(d.name, f);
    }
    if (f.type !== d.type) throw new Error(`Cannot use metric ${d.name}: it is a ${f.type}`);
    return f;
  }

  /** Adds to a counter. */
  inc(d: MetricDef, labels: Labels = {}, by = 1): void {
    if (d.type !== "counter") throw new Error(`Cannot increment ${d.name}: it is a ${d.type}`);
    const f = this.#family(d);
    const k = labelText(labels);
    if (k !== "") f.values.delete("");
    f.values.set(k, (f.values.get(k) ?? 0) + by);
  }

  /** Sets a gauge. */
  set(d: MetricDef, value: number, labels: Labels = {}): void {
    if (d.type !== "gauge") throw new Error(`Cannot set ${d.name}: it is a ${d.type}`);
    const f = this.#family(d);
    const k = labelText(labels);
    if (k !== "") f.values.delete("");
    f.values.set(k, value);
  }

  /** Records one observation in a histogram. */
  observe(d: MetricDef, value: number): void {
    const f = this.#family(d);
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
  value(d: MetricDef | string, labels: Labels = {}): number {
    const name = typeof d === "string" ? d : d.name;
    return this.#families.get(name)?.values.get(labelText(labels)) ?? 0;
  }

  /** Observation count of a histogram. */
  count(d: MetricDef | string): number {
    const name = typeof d === "string" ? d : d.name;
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

export { ALL_METRICS, M, type MetricDef } from "./registry.ts";
