import assert from "node:assert/strict";
import { NetlinkError } from "../../system/netlink/mod.ts";
import { hostVethName } from "../names.ts";
import { addNodeVeth, harness, invoke, netconf } from "../testing.ts";

const POD = "/run/netns/pod1";

Deno.test("ADD: bridge, gateway, veth, pod addresses and default route; result 1.1.0", async () => {
  const h = harness();
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 0, r.stdout);
  const hostName = hostVethName("ctr1", "eth0");
  const node = h.netlink.snapshot("");
  const br = node.links.find((l) => l.name === "hg-br0")!;
  assert.equal(br.kind, "bridge");
  assert.equal(br.up, true);
  assert.ok(node.addrs.some((a) => a.linkIndex === br.index && a.cidr === "10.22.0.1/24"));
  const hv = node.links.find((l) => l.name === hostName)!;
  assert.equal(hv.kind, "veth");
  assert.equal(hv.master, br.index);
  assert.equal(hv.up, true);
  assert.equal(node.sysctls["net/ipv4/ip_forward"], "1");
  const pod = h.netlink.snapshot(POD);
  const eth0 = pod.links.find((l) => l.name === "eth0")!;
  assert.equal(eth0.up, true);
  assert.ok(pod.addrs.some((a) => a.linkIndex === eth0.index && a.cidr === "10.22.0.2/24"));
  assert.ok(pod.routes.some((rt) => rt.dst === "0.0.0.0/0" && rt.gateway === "10.22.0.1"));

  const res = r.json!;
  assert.equal(res["cniVersion"], "1.1.0");
  assert.deepEqual(res["interfaces"], [
    { name: "hg-br0", mac: br.mac, mtu: br.mtu },
    { name: hostName, mac: hv.mac, mtu: hv.mtu },
    { name: "eth0", mac: eth0.mac, mtu: eth0.mtu, sandbox: POD },
  ]);
  assert.deepEqual(res["ips"], [{ address: "10.22.0.2/24", gateway: "10.22.0.1", interface: 2 }]);
  assert.deepEqual(res["routes"], [{ dst: "0.0.0.0/0", gw: "10.22.0.1" }]);
  assert.deepEqual(res["dns"], {});
  assert.deepEqual(h.exec.calls, [], "no process may be spawned");
  assert.equal(h.netlink.callsOf("open").length, 2, "one handle per netns");
});

Deno.test("ADD: dual-stack turns DAD off, adds v6 without DAD; both default routes", async () => {
  const h = harness({ ipam: { v4: "10.22.0", v6: "fd00:22::" } });
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 0, r.stdout);
  const pod = h.netlink.snapshot(POD);
  assert.equal(pod.sysctls["net/ipv6/conf/eth0/accept_dad"], "0");
  const podOps = h.netlink.calls.filter((c) => c.netns === POD).map((c) => c.op);
  assert.ok(podOps.indexOf("setSysctl") < podOps.indexOf("addAddr"), "DAD off first");
  const adds = h.netlink.callsOf("addAddr").map((c) =>
    c.args[0] as { cidr: string; noDad?: boolean }
  );
  assert.deepEqual(adds.map((a) => [a.cidr, a.noDad]), [
    ["10.22.0.1/24", false],
    ["fd00:22::1/64", true],
    ["10.22.0.2/24", false],
    ["fd00:22::2/64", true],
  ]);
  assert.ok(pod.addrs.some((a) => a.cidr === "fd00:22::2/64"));
  assert.ok(pod.routes.some((rt) => rt.dst === "::/0" && rt.gateway === "fd00:22::1"));
  const node = h.netlink.snapshot("");
  assert.ok(node.addrs.some((a) => a.cidr === "fd00:22::1/64"));
  assert.equal(node.sysctls["net/ipv6/conf/all/forwarding"], "1");
  const ips = r.json!["ips"] as { address: string }[];
  assert.deepEqual(ips.map((i) => i.address), ["10.22.0.2/24", "fd00:22::2/64"]);
  assert.equal((r.json!["routes"] as unknown[]).length, 2);
});

Deno.test("ADD: options mtu, hairpin, promisc, no gateway", async () => {
  const h = harness();
  const r = await invoke(h, "ADD", {
    conf: netconf({ mtu: 1400, hairpinMode: true, isDefaultGateway: false }),
  });
  assert.equal(r.exitCode, 0, r.stdout);
  const node = h.netlink.snapshot("");
  const hv = node.links.find((l) => l.kind === "veth")!;
  assert.equal(hv.mtu, 1400);
  assert.equal(hv.hairpin, true);
  assert.equal(node.addrs.length, 0, "no gateway address without isGateway");
  const pod = h.netlink.snapshot(POD);
  assert.equal(pod.links.find((l) => l.name === "eth0")!.mtu, 1400);
  assert.ok(!pod.routes.some((rt) => rt.dst === "0.0.0.0/0"));
  assert.equal(r.json!["routes"], undefined);

  const h2 = harness();
  const r2 = await invoke(h2, "ADD", { conf: netconf({ promiscMode: true }) });
  assert.equal(r2.exitCode, 0, r2.stdout);
  assert.equal(h2.netlink.snapshot("").links.find((l) => l.name === "hg-br0")!.promisc, true);
});

Deno.test("ADD: IPAM routes go via the family gateway and appear in the result", async () => {
  const h = harness({ ipam: { routes: [{ dst: "192.168.0.0/16" }, { dst: "0.0.0.0/0" }] } });
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 0, r.stdout);
  const pod = h.netlink.snapshot(POD);
  assert.ok(pod.routes.some((rt) => rt.dst === "192.168.0.0/16" && rt.gateway === "10.22.0.1"));
  assert.equal(pod.routes.filter((rt) => rt.dst === "0.0.0.0/0").length, 1);
  assert.deepEqual(r.json!["routes"], [
    { dst: "0.0.0.0/0", gw: "10.22.0.1" },
    { dst: "192.168.0.0/16" },
  ]);
});

Deno.test("ADD: twice on one ifname fails with 102 and keeps the first attachment", async () => {
  const h = harness();
  assert.equal((await invoke(h, "ADD")).exitCode, 0);
  const before = h.netlink.snapshot("");
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], 102);
  assert.match(String(r.json!["msg"]), /eth0 already exists/);
  assert.deepEqual(h.netlink.snapshot("").links, before.links);
  assert.deepEqual(h.ipam.addressesOf({ containerId: "ctr1", ifname: "eth0" }), ["10.22.0.2/24"]);
  assert.ok(!h.ipam.calls.some((c) => c.op === "del"), "IPAM untouched");
});

Deno.test("ADD: a non-bridge link with the bridge's name is error 7 before any allocation", async () => {
  const h = harness();
  addNodeVeth(h, { name: "hg-br0", peerName: "x0" });
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], 7);
  assert.match(String(r.json!["msg"]), /hg-br0.*veth/);
  assert.deepEqual(h.ipam.calls, [], "IPAM never asked");
  assert.ok(!h.netlink.snapshot(POD).links.some((l) => l.name === "eth0"));
});

Deno.test("ADD: a missing pod netns is error 4 and allocates nothing", async () => {
  const h = harness();
  const r = await invoke(h, "ADD", { netns: "/run/netns/nope" });
  assert.equal(r.json!["code"], 4);
  assert.equal(h.ipam.calls.length, 0);
});

Deno.test("ADD: IPAM exhaustion passes its code through and creates no veth", async () => {
  const h = harness({ ipam: { capacity: 0 } });
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], 100);
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "veth"));
});

for (
  const op of [
    "addBridge",
    "addVeth",
    "setMaster",
    "setHairpin",
    "setSysctl",
    "addAddr",
    "addRoute",
    "setLinkUp",
  ]
) {
  Deno.test(`ADD: a fault in ${op} rolls back (veth gone, IP released)`, async () => {
    const h = harness({ ipam: { v4: "10.22.0", v6: "fd00:22::" } });
    // Fail the op where ADD does it for this pod: the pod netns for address/route ops.
    let armed = true;
    h.netlink.failWhen((call) => {
      if (!armed || call.op !== op) return undefined;
      if ((op === "setLinkUp" || op === "setSysctl") && call.netns !== POD) return undefined;
      armed = false;
      return new NetlinkError(1, `Cannot ${op}: injected (EPERM)`);
    });
    const r = await invoke(h, "ADD", { conf: netconf({ hairpinMode: true }) });
    assert.equal(r.exitCode, 1, `${op} should fail ADD`);
    assert.equal(r.json!["code"], 101);
    assert.match(String(r.json!["msg"]), /injected/);
    assert.equal(armed, false);
    assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "veth"), "host veth removed");
    assert.ok(!h.netlink.snapshot(POD).links.some((l) => l.name === "eth0"), "pod end removed");
    assert.equal(h.ipam.held.size, 0, "address released");
    // A retry after the fault succeeds.
    const again = await invoke(h, "ADD");
    assert.equal(again.exitCode, 0, again.stdout);
  });
}

Deno.test("ADD: the same attachment already wired into another netns is code 4, first pod untouched", async () => {
  const h = harness({ pods: [POD, "/run/netns/old"] });
  const first = await invoke(h, "ADD", { netns: "/run/netns/old" });
  assert.equal(first.exitCode, 0, first.stdout);
  const before = h.netlink.snapshot("");
  const held = [...h.ipam.held.entries()];
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], 4);
  assert.match(String(r.json!["msg"]), /already wired into another network namespace/);
  assert.deepEqual(h.netlink.snapshot(""), before, "the node is unchanged");
  assert.deepEqual([...h.ipam.held.entries()], held, "the first pod keeps its address");
  assert.ok(h.netlink.snapshot("/run/netns/old").links.some((l) => l.name === "eth0"));
  assert.ok(!h.netlink.snapshot(POD).links.some((l) => l.name === "eth0"));
  assert.ok(!h.ipam.calls.slice(1).some((c) => c.op !== "add"), "no release");
});

Deno.test("CNI_NETNS that is the plugin's own netns is code 4 before any change", async () => {
  for (const command of ["ADD", "CHECK", "DEL"]) {
    const h = harness();
    h.deps.isOwnNetns = (p) => p === "/proc/self/ns/net";
    const r = await invoke(h, command, {
      netns: "/proc/self/ns/net",
      conf: netconf({ prevResult: { cniVersion: "1.1.0", interfaces: [], ips: [] } }),
    });
    assert.equal(r.exitCode, 1, command);
    assert.equal(r.json!["code"], 4, command);
    assert.match(String(r.json!["msg"]), /plugin's own network namespace/);
    assert.deepEqual(h.netlink.calls, [], `${command}: no netlink call`);
    assert.deepEqual(h.ipam.calls, [], `${command}: no IPAM call`);
    assert.deepEqual(h.guardNft.payloads, [], `${command}: no nft call`);
  }
});

Deno.test("GC without the valid-attachments list (either spelling) is an error and deletes nothing", async () => {
  const h = harness();
  assert.equal((await invoke(h, "ADD")).exitCode, 0);
  const before = h.netlink.snapshot("");
  const r = await invoke(h, "GC", { netns: null, containerId: "", ifname: "" });
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], 7);
  assert.match(String(r.json!["msg"]), /valid-attachments/);
  assert.deepEqual(h.netlink.snapshot(""), before);
  assert.equal(h.ipam.held.size, 1);
  assert.ok(!h.ipam.calls.some((c) => c.op === "gc"));
  for (const key of ["cni.dev/valid-attachments", "cni.dev/attachments"]) {
    const ok = await invoke(h, "GC", {
      netns: null,
      conf: netconf({ [key]: [{ containerID: "ctr1", ifname: "eth0" }] }),
    });
    assert.equal(ok.exitCode, 0, `${key}: ${ok.stdout}`);
    assert.equal(h.ipam.held.size, 1, `${key}: the valid attachment stays`);
  }
});

Deno.test("ADD: prevResult of an earlier plugin is kept and indexes shift", async () => {
  const h = harness();
  const prevResult = {
    cniVersion: "0.4.0",
    interfaces: [{ name: "dummy", mac: "02:00:00:00:00:09" }],
    ips: [{ version: "4", address: "192.168.5.5/24", interface: 0 }],
    dns: { nameservers: ["1.1.1.1"] },
  };
  const r = await invoke(h, "ADD", { conf: netconf({ cniVersion: "0.4.0", prevResult }) });
  assert.equal(r.exitCode, 0, r.stdout);
  const res = r.json!;
  assert.equal(res["cniVersion"], "0.4.0");
  assert.equal((res["interfaces"] as unknown[]).length, 4);
  assert.deepEqual(res["ips"], [
    { version: "4", address: "192.168.5.5/24", interface: 0 },
    { version: "4", address: "10.22.0.2/24", gateway: "10.22.0.1", interface: 3 },
  ]);
  assert.deepEqual(res["dns"], { nameservers: ["1.1.1.1"] });
});

Deno.test("ADD: CNI_ARGS IP= and runtimeConfig ips reach IPAM; pod names make the owner sticky", async () => {
  const h = harness();
  const r = await invoke(h, "ADD", {
    args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;IP=10.22.0.50",
    conf: netconf({ runtimeConfig: { ips: ["10.22.0.51"] } }),
  });
  assert.equal(r.exitCode, 0, r.stdout);
  assert.deepEqual(h.ipam.calls[0], {
    op: "add",
    owner: { containerId: "ctr1", ifname: "eth0", podNamespace: "default", podName: "web-0" },
    requestedIps: ["10.22.0.50", "10.22.0.51"],
  });
});

Deno.test("ADD: forwarding that cannot be switched on is a warning, not a failure", async () => {
  const h = harness();
  h.netlink.failNext("getSysctl", new NetlinkError(13, "Cannot read sysctl: denied (EACCES)"));
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 0, r.stdout);
  assert.ok(h.log.lines.some((l) => l.level === "warn" && /ip_forward/.test(l.msg)));
});
