/**
 * The checks the fault and trust tests (tests/trust_fault_test.ts,
 * tests/datastore_outage_test.ts) make on a running simulated cluster: the
 * agents' /readyz, /healthz and reject counters, a complete route baseline,
 * pings between every pair of pods (once, or continuously in the background
 * through an outage) and /readyz flip times. All read from inside the
 * namespaces; nothing here changes the cluster.
 * @module
 */
import assert from "node:assert/strict";
import type { Cluster, Pod } from "./cluster.ts";
import { allPing, httpGet, pingOk, routeLines } from "./probes.ts";
import { until } from "../helpers/until.ts";

/** The agents' health address (inside each node's namespace). */
export const HEALTH = "http://127.0.0.1:9099";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keeps a fault in place until it has lasted `ms` (an outage length, not a timing check). */
export async function holdUntil(startedAt: number, ms: number): Promise<void> {
  const left = startedAt + ms - Date.now();
  if (left > 0) await sleep(left);
}

/** True when the agent in `netns` answers /readyz with 200. */
export async function ready(netns: string): Promise<boolean> {
  return (await httpGet(netns, `${HEALTH}/readyz`)) === "ok\n";
}

/** Counter values of hostgate_peers_rejected_total by reason, read from a node's /metrics. */
export async function rejected(netns: string): Promise<Record<string, number>> {
  const text = await httpGet(netns, `${HEALTH}/metrics`) ?? "";
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^hostgate_peers_rejected_total\{reason="([^"]+)"\} (\d+)$/gm)) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Checks over the cluster's nodes `nodes` and the pods in `pods` (filled in by the caller). */
export class ClusterChecks {
  readonly #c: Cluster;
  readonly #nodes: readonly string[];
  readonly pods: Pod[] = [];

  constructor(c: Cluster, nodes: readonly string[]) {
    this.#c = c;
    this.#nodes = nodes;
  }

  /** Every node's hostgate routes ("dst via gw"), by node name. */
  async snapshot(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const n of this.#nodes) out[n] = await routeLines(this.#c.node(n).netns);
    return out;
  }

  /** Every pod pair as [label, from netns, to ip]. */
  pairs(): [string, string, string][] {
    return this.pods.flatMap((a) =>
      this.pods.filter((b) => b !== a).map((b) =>
        [`${a.label} -> ${b.label}`, a.netns, b.ip] as [string, string, string]
      )
    );
  }

  /** Every pod pings every other (with retries). */
  pingAll(): Promise<void> {
    return allPing(this.pairs());
  }

  /** Every agent still answers /healthz: none crashed through the fault. */
  async agentsAlive(): Promise<void> {
    for (const n of this.#nodes) {
      const netns = this.#c.node(n).netns;
      assert.ok(await httpGet(netns, `${HEALTH}/healthz`), `agent ${n} does not answer`);
    }
  }

  /**
   * Waits until each node routes exactly every peer's subnet via its node
   * and each local pod's host route (the plugin's, same protocol), then
   * returns that snapshot: a baseline taken while one route is still being
   * (re)written would be incomplete.
   */
  async baseline(): Promise<Record<string, string[]>> {
    for (const n of this.#nodes) {
      const t0 = Date.now();
      let first: string | undefined;
      await until(`${n}'s routes complete`, async () => {
        const peers = await this.#c.expectedRoutes(n, [...this.#nodes]);
        if (!peers) return undefined;
        const own = this.pods.filter((p) => p.node.name === n).map((p) => `${p.ip} via -`);
        const want = [...peers, ...own].sort();
        const got = [...await routeLines(this.#c.node(n).netns)].sort();
        const ok = JSON.stringify(got) === JSON.stringify(want);
        first ??= ok ? "" : `have ${got.join("; ")}, want ${want.join("; ")}`;
        return ok || undefined;
      });
      // Evidence for the old flake (an incomplete baseline after pings passed): say when it waited.
      if (first) console.error(`baseline: ${n} incomplete for ${Date.now() - t0} ms: ${first}`);
    }
    return this.snapshot();
  }
}

/** What `PingWatch.stop` found. */
export interface PingRecord {
  rounds: number;
  /** "label at ISO time" of every pair that failed a round (one retry included). */
  failures: string[];
}

/**
 * Pings every pod pair once per round (a lost packet is retried once) in the
 * background until stopped: "pods keep pinging throughout" a fault.
 */
export class PingWatch {
  #on = true;
  #rounds = 0;
  readonly #failures: string[] = [];
  readonly #loop: Promise<void>;

  constructor(pairs: [string, string, string][], opts: { pauseMs?: number } = {}) {
    this.#loop = (async () => {
      while (this.#on) {
        const ok = await Promise.all(pairs.map(([, ns, ip]) => pingOk(ns, ip, { tries: 2 })));
        const at = new Date().toISOString();
        pairs.forEach(([label], i) => {
          if (!ok[i]) this.#failures.push(`${label} at ${at}`);
        });
        this.#rounds++;
        await sleep(opts.pauseMs ?? 300);
      }
    })();
  }

  /** Ends the loop after its current round. */
  async stop(): Promise<PingRecord> {
    this.#on = false;
    await this.#loop;
    return { rounds: this.#rounds, failures: [...this.#failures] };
  }
}

/**
 * Polls /readyz on `netns` until it reads `want` (true: 200), from a
 * moment `since` (ms, Date.now() clock); returns the ms from `since` to the
 * first poll that read it. Fails after `ms` (a generous bound, not a timing
 * check: the caller reports the figure).
 */
export async function readyFlip(
  netns: string,
  want: boolean,
  opts: { since: number; ms?: number; everyMs?: number },
): Promise<number> {
  const deadline = opts.since + (opts.ms ?? 20_000);
  while (Date.now() < deadline) {
    if ((await ready(netns)) === want) return Date.now() - opts.since;
    await sleep(opts.everyMs ?? 100);
  }
  throw new Error(
    `Cannot see /readyz ${want ? "200" : "503"} in ${netns}: still not after ${
      opts.ms ?? 20_000
    } ms`,
  );
}
