import assert from "node:assert/strict";
import { conflistFor, renderConflist } from "./conflist.ts";
import { assertGolden } from "../testing/mod.ts";

Deno.test("conflist: single stack, routed by default (golden)", async () => {
  await assertGolden(
    "conflist_v4.json",
    renderConflist({
      name: "hostgate",
      bridge: "hostgate0",
      mtu: 1450,
      podCidrs: ["10.244.1.0/24"],
    }),
  );
});

Deno.test("conflist: dual stack, bridge mode, v4 range first, custom IPAM dir (golden)", async () => {
  await assertGolden(
    "conflist_dual.json",
    renderConflist({
      name: "hostgate",
      mode: "bridge",
      bridge: "hostgate0",
      mtu: 9000,
      podCidrs: ["fd00:10:244:1::/64", "10.244.1.0/24"],
      ipamDir: "/var/lib/hostgate/ipam",
    }),
  );
});

Deno.test("conflist: shape the runtimes read", () => {
  const c = JSON.parse(
    renderConflist({
      name: "hostgate",
      bridge: "hostgate0",
      mtu: 1500,
      podCidrs: ["10.244.1.0/24"],
      ipamDir: "/run/hostgate/ipam",
    }),
  );
  assert.equal(c.cniVersion, "1.0.0");
  assert.deepEqual(c.cniVersions, ["1.0.0", "1.1.0"]);
  assert.deepEqual(c.plugins.map((p: { type: string }) => p.type), ["hostgate"]);
  assert.equal(c.plugins[0].ipam.dataDir, undefined, "the default dir is not written");
  assert.equal(c.plugins[0].stateDir, undefined, "the default state dir is not written");
  // No Go plugin: hostPorts and bandwidth come to hostgate itself.
  assert.deepEqual(c.plugins[0].capabilities, { portMappings: true, bandwidth: true });
  assert.equal(c.plugins[0].agentSocket, undefined, "no plugin socket unless the agent serves one");
});

Deno.test("conflist: names the agent's plugin socket when it serves one", () => {
  const c = JSON.parse(
    conflistFor(
      {
        networkName: "hostgate",
        podMode: "routed",
        bridge: "hostgate0",
        ipamDir: "/run/hostgate/ipam",
        ipam: "local",
        ippoolName: "",
        ippoolKubeconfig: undefined,
        kubeconfig: "",
        nodeName: "n1",
        pluginSocket: "/run/hostgate/plugin.sock",
      },
      { podCidrs: ["10.244.1.0/24"], mtu: 1450 },
    ),
  );
  assert.equal(c.plugins[0].agentSocket, "/run/hostgate/plugin.sock");
});

Deno.test("conflist: the pod-record dir sits beside a custom IPAM dir", () => {
  const c = JSON.parse(
    renderConflist({
      name: "hostgate",
      bridge: "hostgate0",
      mtu: 1500,
      podCidrs: ["10.244.1.0/24"],
      ipamDir: "/tmp/node-a/ipam",
    }),
  );
  assert.equal(c.plugins[0].stateDir, "/tmp/node-a/pods");
});

Deno.test("conflist: refused without a subnet", () => {
  assert.throws(
    () => renderConflist({ name: "hostgate", bridge: "hostgate0", mtu: 1500, podCidrs: [] }),
    /no pod subnet/,
  );
});
