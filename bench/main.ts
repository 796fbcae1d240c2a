/**
 * `deno task bench`: every benchmark suite in one run, each printing a table
 * with hostgate next to its reference. `--only plugin,agent,...` selects suites.
 * The plugin suite takes `--pods`, `--rounds`, `--parallel`, `--versions`,
 * `--trace-pods` (0: no breakdown) and `--env bare,runtime`, for short runs
 * while iterating. Needs root: suites build throwaway network namespaces.
 * @module
 */
import { parseArgs } from "node:util";
import { pluginBench } from "./plugin_bench.ts";
import { chainBench } from "./chain_bench.ts";
import { ippoolBench } from "./ippool_bench.ts";
import { dataplaneBench } from "./dataplane_bench.ts";
import { vxlanBench } from "./vxlan_bench.ts";
import { agentBench } from "./agent_bench.ts";
import { recoveryBench } from "./recovery_bench.ts";
import { routedBench } from "./routed_bench.ts";

// `--soak-seconds=N`: the agent soak's duration (default 30 s; the figure is 600).
const { values } = parseArgs({
  options: {
    only: { type: "string" },
    "soak-seconds": { type: "string" },
    pods: { type: "string" },
    rounds: { type: "string" },
    parallel: { type: "string" },
    versions: { type: "string" },
    "trace-pods": { type: "string" },
    env: { type: "string" },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));

const suites: Record<string, () => Promise<string>> = {
  plugin: () =>
    pluginBench({
      pods: num(values.pods),
      rounds: num(values.rounds),
      parallel: num(values.parallel),
      versions: num(values.versions),
      tracePods: num(values["trace-pods"]),
      envs: values.env?.split(","),
    }),
  chain: () => chainBench(),
  ippool: () => ippoolBench(),
  dataplane: () => dataplaneBench(),
  routed: () => routedBench(),
  vxlan: () => vxlanBench(),
  agent: () =>
    agentBench({
      soakSeconds: values["soak-seconds"] ? Number(values["soak-seconds"]) : undefined,
    }),
  recovery: () => recoveryBench(),
};

const selected = values.only ? values.only.split(",") : Object.keys(suites);
for (const name of selected) {
  const suite = suites[name];
  if (!suite) {
    console.error(`Cannot run benchmark ${name}: unknown (have ${Object.keys(suites).join(", ")})`);
    Deno.exit(2);
  }
  console.log(`\n## ${name}\n`);
  console.log(await suite());
}
