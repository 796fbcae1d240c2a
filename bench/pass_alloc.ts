/**
 * Probe (not part of `deno task bench`): what one reconcile pass allocates
 * with N peers, on the fake node (no root). Runs a first pass (installs the
 * routes), then samples the allocations of a second, full pass with V8's
 * sampling heap profiler (garbage included) and prints the top sites.
 * `deno run -A --v8-flags=--max-semi-space-size=1 bench/pass_alloc.ts --peers=20000`
 * @module
 */
import { parseArgs } from "node:util";
import { Session } from "node:inspector";
import { fakeNode } from "../src/agent/testing/mod.ts";
import type { NodeInfo } from "../src/datastore/mod.ts";

const { values } = parseArgs({ options: { peers: { type: "string" } } });
const n = Number(values.peers ?? 20000);
const peers: NodeInfo[] = [];
for (let i = 0; i < n; i++) {
  const cidr = `10.${(i + 2) >> 8}.${(i + 2) & 255}.0/24`;
  peers.push({
    name: `node-${i}`,
    podCidrs: [cidr],
    addresses: [`172.16.${(i + 10) >> 8}.${(i + 10) & 255}`],
    subnetSource: "spec",
    ownership: { source: "node-spec", subnets: [cidr] },
  });
}
const node = fakeNode({ peers, flags: ["--cluster-cidr=10.0.0.0/8"] });
node.handle.addAddr({ linkIndex: node.uplink, cidr: "172.16.0.1/16" });
const rec = node.reconciler();
let t0 = performance.now();
const first = await rec.resync();
console.log(`first pass ${Math.round(performance.now() - t0)} ms, routes +${first.routes.added}`);
const session = new Session();
session.connect();
const post = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve, reject) =>
    session.post(
      method,
      params,
      (err: Error | null, res: unknown) => err ? reject(err) : resolve(res),
    )
  );
await post("HeapProfiler.enable");
await post("HeapProfiler.startSampling", {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
t0 = performance.now();
const second = await rec.resync();
const ms = Math.round(performance.now() - t0);
const { profile } = await post("HeapProfiler.stopSampling") as {
  profile: { head: Frame };
};
interface Frame {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Frame[];
}
const bySite = new Map<string, number>();
let total = 0;
const walk = (f: Frame, path: string[]) => {
  const name = `${f.callFrame.functionName || "(anon)"} ${
    f.callFrame.url.split("/").slice(-2).join("/")
  }:${f.callFrame.lineNumber + 1}`;
  total += f.selfSize;
  bySite.set(name, (bySite.get(name) ?? 0) + f.selfSize);
  if (f.selfSize > 0 && /net\/cidr.ts/.test(name)) {
    const key = [...path.slice(-4), name].join(" < ");
    stacks.set(key, (stacks.get(key) ?? 0) + f.selfSize);
  }
  for (const c of f.children) walk(c, [...path, name]);
};
const stacks = new Map<string, number>();
walk(profile.head, []);
console.log(
  `second pass ${ms} ms, writes ${second.writes}, sampled allocation ${
    (total / 1048576).toFixed(1)
  } MiB`,
);
for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${(v / 1048576).toFixed(2).padStart(7)} MiB  ${k}`);
}
console.log("--- CIDR parses by caller");
for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
  console.log(`${(v / 1048576).toFixed(2).padStart(7)} MiB  ${k}`);
}
