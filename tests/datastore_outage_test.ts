/**
 * Root-only: issue 12's datastore outages on the simulated three-node cluster
 * (tests/cluster/), with a pod on every node pinging every other pod
 * throughout (a background loop, one retry per lost packet):
 * - file store: the nodes/ folder gone 3 s, then 60 s (one cluster);
 * - Kubernetes store: the test API server's port closed for 30 s.
 * During each outage one agent is killed with -9 and restarted while the
 * store is still down. A node added to the store during the outage (an entry
 * in the hidden folder with its claim, or a Node object) shows whether the
 * agents converge once it is back.
 *
 * Asserted: no route deleted or changed at any sample during the outage,
 * no failed ping round, /readyz 503 on every node during and 200 after,
 * the new node routed on every node after the recovery, the agents that were
 * not killed still the same live processes with no crash in their logs.
 * Measured and printed (timings are not asserted here; bench/ does that):
 * /readyz flip times after the loss and after the recovery, and the
 * convergence time from the recovery to the new node's route on every node.
 * Needs `deno task bundle`. Namespace prefixes hgof, hgok. About 2.5 min.
 * @module
 */
import assert from "node:assert/strict";
import { isRoot } from "./helpers/netns.ts";
import { Cluster } from "./cluster/cluster.ts";
import type { DatastoreKind } from "./cluster/datastores.ts";
import { until } from "./helpers/until.ts";
import { httpGet, routeLines } from "./cluster/probes.ts";
import {
  ClusterChecks,
  HEALTH,
  holdUntil,
  PingWatch,
  ready,
  readyFlip,
} from "./cluster/fault_checks.ts";

const NODES = ["n1", "n2", "n3"];
/** The agent killed with -9 and restarted during each outage. */
const VICTIM = "n3";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One way of losing the datastore. */
interface Outage {
  kind: DatastoreKind;
  prefix: string;
  /** Outage lengths, run one after the other on one cluster. */
  lengthsMs: number[];
  /** Takes the store away. */
  lose(c: Cluster): Promise<void>;
  /** Brings it back. */
  restore(c: Cluster): Promise<void>;
  /** Adds node `name` (subnet, address) to the store while it is away. */
  addLate(c: Cluster, late: { name: string; subnet: string; ip: string }): Promise<void>;
}

const FILE: Outage = {
  kind: "file",
  prefix: "hgof",
  lengthsMs: [3_000, 60_000],
  lose: (c) => Deno.rename(`${c.dir}/store/nodes`, `${c.dir}/store/nodes.away`),
  restore: (c) => Deno.rename(`${c.dir}/store/nodes.away`, `${c.dir}/store/nodes`),
  addLate: async (c, late) => {
    // Written by hand as the store writes them: the claim, then the entry (in the hidden folder).
    const store = `${c.dir}/store`;
    await Deno.writeTextFile(`${store}/claims/${late.subnet.replace("/", "_")}`, `${late.name}\n`);
    const entry = { name: late.name, podCidrs: [late.subnet], addresses: [late.ip] };
    await Deno.writeTextFile(`${store}/nodes.away/${late.name}.json`, JSON.stringify(entry));
  },
};

const KUBERNETES: Outage = {
  kind: "kubernetes",
  prefix: "hgok",
  lengthsMs: [30_000],
  lose: (c) => c.backend.stopServer!(),
  restore: (c) => c.backend.startServer!(),
  addLate: async (c, late) => {
    await c.backend.putObject!("nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: late.name },
      spec: { podCIDR: late.subnet, podCIDRs: [late.subnet] },
      status: { addresses: [{ type: "InternalIP", address: late.ip }] },
    });
  },
};

/** ms until every node in `nodes` reads /readyz `want`, per node, from `since`. */
async function flips(c: Cluster, want: boolean, since: number): Promise<Record<string, number>> {
  const ms = await Promise.all(NODES.map((n) => readyFlip(c.node(n).netns, want, { since })));
  return Object.fromEntries(NODES.map((n, i) => [n, ms[i]!]));
}

const fmt = (r: Record<string, number>) => NODES.map((n) => `${n} ${r[n]} ms`).join(", ");

async function scenario(o: Outage, t: Deno.TestContext): Promise<void> {
  const c = await Cluster.start({ prefix: o.prefix, nodes: 3, datastore: o.kind });
  const checks = new ClusterChecks(c, NODES);
  const ns = (n: string) => c.node(n).netns;
  let failed = false;
  const step = async (name: string, fn: () => Promise<void>) => {
    const ok = await t.step(name, fn);
    if (!ok) {
      failed = true;
      console.error(await c.agentLogs(25));
    }
    return ok;
  };
  /** Set once an agent process exits on its own (not killed by the test). */
  const exited: string[] = [];
  const watchExit = (n: string) => {
    const p = c.agents.get(n)!;
    p.done.then((s) => {
      if (c.agents.get(n) === p) exited.push(`${n} (${s.code}/${s.signal ?? "-"})`);
    });
  };
  try {
    let routes: Record<string, string[]> = {};
    const up = await step("three agents converge and their pods ping each other", async () => {
      await Promise.all(NODES.map((n) => c.join(n)));
      await c.waitMesh(NODES);
      for (const n of NODES) checks.pods.push(await c.addPod(n, "a"));
      await checks.pingAll();
      for (const n of NODES) await until(`${n} ready`, () => ready(ns(n)));
      routes = await checks.baseline();
      NODES.forEach(watchExit);
    });
    if (!up) return;

    for (const [i, lengthMs] of o.lengthsMs.entries()) {
      const late = { name: `late${i}`, subnet: `10.244.${201 + i}.0/24`, ip: `172.30.0.${71 + i}` };
      const title = `${o.kind} store gone ${lengthMs / 1000} s (kill -9 of ${VICTIM} meanwhile)`;
      const ok = await step(title, async () => {
        const logStart = await logSizes(c);
        const pings = new PingWatch(checks.pairs());
        let lostAt = 0;
        let down: Record<string, number> = {};
        let restored = false;
        try {
          await o.lose(c);
          lostAt = Date.now();
          down = await flips(c, false, lostAt);
          await o.addLate(c, late);
          await c.stopAgent(VICTIM, "SIGKILL");
          await c.startAgent(VICTIM);
          watchExit(VICTIM);
          await until(
            `${VICTIM} answers again`,
            async () => (await httpGet(ns(VICTIM), `${HEALTH}/healthz`)) !== undefined,
          );
          assert.equal(await ready(ns(VICTIM)), false, `${VICTIM} restarted: not ready yet`);
          // Sampled through the whole outage: no route deleted, none changed.
          do {
            assert.deepEqual(await checks.snapshot(), routes, "no route changed during the outage");
            await sleep(Math.min(2_000, Math.max(0, lostAt + lengthMs - Date.now())));
          } while (Date.now() < lostAt + lengthMs);
          await holdUntil(lostAt, lengthMs);
        } finally {
          await o.restore(c);
          restored = true;
        }
        const backAt = Date.now();
        const want = `${late.subnet} via ${late.ip}`;
        const [converged, upAgain] = await Promise.all([
          Promise.all(
            NODES.map((n) =>
              until(
                `${n} routes ${late.name}`,
                async () => (await routeLines(ns(n))).includes(want) && Date.now() - backAt,
                {
                  ms: 20_000,
                  everyMs: 20,
                },
              )
            ),
          ),
          flips(c, true, backAt),
        ]);
        const record = await pings.stop();
        const out = Object.fromEntries(NODES.map((n, i) => [n, converged[i]! as number]));
        console.error(
          `${title}: /readyz 503 after ${fmt(down)}; 200 after recovery ${fmt(upAgain)}; ` +
            `${late.name} routed everywhere after ${fmt(out)}; ${record.rounds} ping rounds, ` +
            `${record.failures.length} failed`,
        );
        assert.ok(restored);
        assert.deepEqual(record.failures, [], "pods kept pinging throughout");
        assert.ok(record.rounds >= lengthMs / 1000, `${record.rounds} ping rounds`);
        // After the recovery: the old routes and the late node's, nothing else.
        const after = await checks.snapshot();
        for (const n of NODES) {
          assert.deepEqual(after[n], [...routes[n]!, want].sort(), `${n} after the recovery`);
        }
        routes = after;
        assert.deepEqual(exited, [], "no agent exited");
        await checks.agentsAlive();
        await noCrash(c, logStart);
        await checks.pingAll();
      });
      if (!ok) break;
    }
  } finally {
    if (failed) console.error(`${o.kind}: cluster dir ${c.dir} (removed at teardown)`);
    await c.teardown();
  }
}

/** Each agent log's length now (what an outage step reads from). */
async function logSizes(c: Cluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of NODES) out[n] = (await Deno.stat(c.dirs(n).agentLog)).size;
  return out;
}

/** No agent log shows a crash since `from`. */
async function noCrash(c: Cluster, from: Record<string, number>): Promise<void> {
  for (const n of NODES) {
    const text = new TextDecoder().decode(await Deno.readFile(c.dirs(n).agentLog));
    const since = text.slice(from[n] ?? 0);
    assert.doesNotMatch(since, /panic|Segmentation fault|SIGSEGV|uncaught/i, `${n}'s log`);
  }
}

for (const o of [FILE, KUBERNETES]) {
  Deno.test({
    name: `datastore outage (${o.kind}): ${
      o.lengthsMs.map((m) => `${m / 1000} s`).join(" and ")
    }, routes kept, pods ping, ready flips, converges`,
    ignore: !isRoot(),
    sanitizeResources: false,
    sanitizeOps: false,
    fn: (t) => scenario(o, t),
  });
}
