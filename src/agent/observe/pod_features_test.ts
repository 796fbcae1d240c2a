import assert from "node:assert/strict";
import { FakeFileSystem } from "../../system/fake_fs.ts";
import { Metrics } from "./metrics.ts";
import { readPodFeatures, setPodFeatureMetrics } from "./pod_features.ts";
import { M } from "./registry.ts";

const CFG = { ipamDir: "/tmp/node-a/ipam", networkName: "hostgate" };

Deno.test("pod features: status lines and gauges from the plugin's records", async () => {
  const rec = (id: string, extra: Record<string, unknown>) =>
    JSON.stringify({
      containerId: id,
      ifname: "eth0",
      hostVeth: `hg${id.padEnd(12, "0")}`,
      podIps: ["10.244.1.2/24"],
      portMappings: [],
      ...extra,
    });
  const fs = new FakeFileSystem({
    files: {
      "/tmp/node-a/pods/hostgate/hgb.json": rec("b", {
        portMappings: [
          { hostPort: 8080, containerPort: 80, protocol: "tcp" },
          { hostPort: 53, containerPort: 53, protocol: "udp", hostIP: "10.0.0.1" },
        ],
      }),
      "/tmp/node-a/pods/hostgate/hga.json": rec("a", {
        bandwidth: { ingress: { rate: 1000000, burst: 80000 } },
      }),
      "/tmp/node-a/pods/hostgate/torn.json": "{",
      "/tmp/node-a/pods/other/hgc.json": rec("c", { bandwidth: {} }),
    },
  });
  const pods = await readPodFeatures(fs, CFG);
  assert.deepEqual(pods, [
    { containerId: "a", ifname: "eth0", hostPorts: [], bandwidth: "in 1000000/80000 out -" },
    {
      containerId: "b",
      ifname: "eth0",
      hostPorts: ["tcp 8080->80", "udp 10.0.0.1:53->53"],
      bandwidth: "",
    },
  ]);
  const m = new Metrics();
  setPodFeatureMetrics(m, pods);
  assert.equal(m.value(M.podHostPorts), 2);
  assert.equal(m.value(M.podBandwidthLimits), 1);
  assert.deepEqual(await readPodFeatures(new FakeFileSystem(), CFG), []);
});
