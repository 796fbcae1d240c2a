import { computeDesired } from "/work/main/src/agent/desired_state.ts";
import { planRoutes } from "/work/main/src/agent/routes.ts";
import { mergeNodes } from "/work/main/src/datastore/kubernetes_nodes.ts";
const N = Number(Deno.args[0] ?? 5000);
const raw = [];
for (let i = 0; i < N; i++) {
  const n = i + 10;
  raw.push({
    metadata: { name: `node-${i}` },
    spec: { podCIDR: `10.${i >> 8}.${i & 255}.0/24`, podCIDRs: [`10.${i >> 8}.${i & 255}.0/24`] },
    status: { addresses: [{ type: "InternalIP", address: `172.16.${n >> 8}.${n & 255}` }] },
  });
}
let t = performance.now();
const nodes = mergeNodes(raw, new Map());
console.log("merge", performance.now() - t);
t = performance.now();
const d = computeDesired({
  selfName: "node-0",
  nodes,
  localAddrs: [{ linkIndex: 2, linkName: "up0", cidr: "172.16.0.10/16" }],
  bridge: "hostgate0",
});
console.log("desired", performance.now() - t, d.routes.length);
t = performance.now();
const p = planRoutes(d.routes, [], { allowDelete: true });
console.log("plan", performance.now() - t, p.add.length);
