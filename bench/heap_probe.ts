/**
 * Probe (not part of `deno task bench`): one agent against N kubelet Nodes
 * under --inspect, a heap summary and raw snapshot saved once converged.
 * `deno run -A bench/heap_probe.ts --nodes=20000 --out=/tmp/x`
 * @module
 */
import { parseArgs } from "node:util";
import { FfiNetlink } from "../src/system/netlink/mod.ts";
import { sh, withNetns } from "../tests/helpers/netns.ts";
import { routesIn, startBenchNode, startBenchServer } from "./agent_cold.ts";
import { memoryOf, sleep } from "./agent_bench_util.ts";
import { rssByMapping } from "./agent_memory.ts";

const { values } = parseArgs({
  options: {
    nodes: { type: "string" },
    out: { type: "string" },
    wait: { type: "string" },
    snapshot: { type: "string" },
    "v8-flags": { type: "string" },
    bin: { type: "string" },
  },
});
const nodes = Number(values.nodes ?? 20000);
const out = values.out ?? "/tmp/heap-probe";
const snap = values.snapshot !== "false";
const v8Flags = values["v8-flags"]?.split(",").filter((f) => f);
const ROOT = new URL("../", import.meta.url).pathname;
const netlink = new FfiNetlink();
const tmp = await Deno.makeTempDir({ prefix: "hostgate-heap-probe-" });
await withNetns("hgph", async (ns) => {
  const server = await startBenchServer(ns, { nodes, shape: "kubelet" }, "api");
  try {
    const n = await startBenchNode({
      ns,
      netlink,
      tmp,
      server,
      name: "probe",
      inspect: snap ? "127.0.0.1:9229" : undefined,
      v8Flags,
      bin: values.bin,
    });
    // RSS by mapping every 100 ms until settled: which kind of memory makes the peak.
    const series: [number, number, number, number][] = [];
    const t0 = performance.now();
    const sampler = setInterval(() => {
      try {
        const m = rssByMapping(n.agent.child.pid);
        const ms = Math.round(performance.now() - t0);
        series.push([ms, m.v8Pages >> 10, m.otherAnon >> 10, m.executable >> 10]);
      } catch {
        // the agent is gone
      }
    }, 100);
    try {
      const r = await routesIn(n, { netlink, ns, want: nodes - 1, timeoutMs: 300_000 });
      await sleep(Number(values.wait ?? 2000));
      const mem = await memoryOf(n.agent.child.pid);
      const maps = rssByMapping(n.agent.child.pid);
      if (!snap) {
        await sleep(10_000);
        const later = await memoryOf(n.agent.child.pid);
        const laterMaps = rssByMapping(n.agent.child.pid);
        clearInterval(sampler);
        const metrics = await sh([
          "ip",
          "netns",
          "exec",
          n.netns,
          "curl",
          "-s",
          "http://127.0.0.1:9099/metrics",
        ]);
        const passes = metrics.split("\n").filter((l) =>
          /^hostgate_reconcile_duration_seconds_(sum|count)|^hostgate_reconciles_total/.test(l)
        );
        const peakAt = series.reduce((b, x) => (x[1] + x[2] + x[3] > b[1] + b[2] + b[3] ? x : b));
        console.log(
          JSON.stringify({
            r,
            mem,
            maps,
            later,
            laterMaps,
            v8Flags,
            bin: values.bin,
            peakAt,
            passes,
          }),
        );
        if (values.out) await Deno.writeTextFile(`${out}.series.json`, JSON.stringify(series));
        return;
      }
      const text = await sh([
        "ip",
        "netns",
        "exec",
        n.netns,
        Deno.execPath(),
        "run",
        "-A",
        `${ROOT}bench/agent_heap.ts`,
        "--inspect=127.0.0.1:9229",
        `--pid=${n.agent.child.pid}`,
        `--save=${out}.heapsnapshot`,
      ]);
      const maps2 = rssByMapping(n.agent.child.pid);
      await Deno.writeTextFile(
        `${out}.json`,
        JSON.stringify(
          { r, mem, maps, maps2, summary: JSON.parse(text.trim().split("\n").pop()!) },
          null,
          1,
        ),
      );
      console.log(JSON.stringify({ r, mem, maps, maps2 }));
    } finally {
      clearInterval(sampler);
      await n.stop();
    }
  } finally {
    await server.close();
  }
});
await Deno.remove(tmp, { recursive: true });
