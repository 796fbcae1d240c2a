import assert from "node:assert/strict";
import { FILTER_CHAIN, NAT_CHAIN } from "../firewall/mod.ts";
import { M } from "../observe/mod.ts";
import { fakeNode, NETLINK_WRITES, peer, routesOf } from "../testing/mod.ts";

const CONFLIST = "/etc/cni/net.d/10-hostgate.conflist";

Deno.test("reconcile (bridge mode): first pass installs routes, rules, bridge, forwarding, plugin, conflist", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3)], flags: ["--pod-mode=bridge"] });
  const r = await n.reconciler().resync();
  assert.deepEqual(r.errors, []);
  assert.equal(r.ready, true, r.notReady.join("; "));
  assert.deepEqual(routesOf(n.handle), [
    "10.244.2.0/24 via 192.168.1.12",
    "10.244.3.0/24 via 192.168.1.13",
  ]);
  assert.equal(n.handle.listRoutes({ family: 4, protocol: 151 })[0]!.linkIndex, n.uplink);
  assert.equal(n.v4.rules("filter", FILTER_CHAIN)!.length, 4);
  assert.equal(n.v4.rules("nat", NAT_CHAIN)!.length, 1);
  assert.equal(n.handle.getSysctl("net/ipv4/ip_forward"), "1");
  const br = n.handle.getLink("hostgate0")!;
  assert.equal(br.kind, "bridge");
  assert.ok(n.handle.listAddrs({ linkIndex: br.index }).some((a) => a.cidr === "10.244.1.1/24"));
  assert.equal(n.fs.file("/opt/cni/bin/hostgate"), "#!plugin v1\n");
  assert.equal(n.fs.modeOf("/opt/cni/bin/hostgate"), 0o755);
  const conf = JSON.parse(n.fs.file(CONFLIST)!);
  assert.equal(conf.plugins[0].mtu, 1450, "MTU of the uplink");
  assert.deepEqual(conf.plugins[0].ipam.ranges, [[{ subnet: "10.244.1.0/24" }]]);
  assert.equal(n.metrics.value(M.routesDesired), 2);
  assert.equal(n.metrics.value(M.routesInstalled), 2);
  assert.equal(n.metrics.value(M.ready), 1);
});

Deno.test("reconcile (routed mode, the default): no bridge, conflist routed, pod host routes left alone", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  // A routed pod the plugin wired: its veth and host route (protocol 151, no gateway).
  n.nl.addNetns("/run/netns/pod");
  const veth = n.handle.addVeth({
    name: "hg0123456789ab",
    peerName: "eth0",
    peerNetns: "/run/netns/pod",
  });
  n.handle.setLinkUp(veth.index);
  const podRoute = {
    family: 4 as const,
    dst: "10.244.1.5/32",
    linkIndex: veth.index,
    scope: "link" as const,
    protocol: 151,
  };
  n.handle.addRoute(podRoute);
  const rec = n.reconciler();
  const r = await rec.resync();
  assert.deepEqual(r.errors, []);
  assert.equal(r.ready, true, r.notReady.join("; "));
  assert.equal(n.handle.getLink("hostgate0"), undefined, "routed mode makes no bridge");
  const conf = JSON.parse(n.fs.file(CONFLIST)!);
  assert.equal(conf.plugins[0].mode, "routed");
  assert.equal(conf.plugins[0].bridge, undefined);
  assert.ok(
    n.handle.listRoutes({ family: 4, protocol: 151 }).some((x) => x.dst === "10.244.1.5/32"),
    "the pod's host route survives the pass",
  );
  assert.deepEqual(routesOf(n.handle), [
    "10.244.1.5/32 via undefined",
    "10.244.2.0/24 via 192.168.1.12",
  ]);
  assert.equal(n.metrics.value(M.routesInstalled), 1, "the agent counts only its own routes");
  n.nl.clearCalls();
  const before = n.writes();
  await rec.resync();
  assert.equal(n.writes(), before, "a second pass writes nothing");
});

Deno.test("reconcile: a second pass over unchanged input writes nothing", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3)] });
  const rec = n.reconciler();
  await rec.resync();
  n.nl.clearCalls();
  const before = n.writes();
  const r = await rec.resync();
  assert.equal(r.writes, 0);
  assert.equal(n.writes() - before, 0);
  assert.deepEqual(n.nl.calls.filter((c) => NETLINK_WRITES.includes(c.op)), []);
  assert.equal(n.v4.restoreCount, 1);
  assert.equal(r.ready, true);
});

Deno.test("reconcile: node deleted removes its route; IP changed replaces it in place", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3)] });
  const rec = n.reconciler();
  await rec.resync();
  n.ds.deleteNode("c");
  await rec.resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  n.nl.clearCalls();
  n.ds.setNode(peer("b", 2, { addresses: ["192.168.1.77"] }));
  const r = await rec.resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.77"]);
  assert.equal(r.routes.replaced, 1);
  assert.equal(n.nl.callsOf("deleteRoute").length, 0, "no delete + re-add: no flap");
});

Deno.test("reconcile: after a restart, stale routes of gone nodes go and correct ones stay untouched", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3)] });
  await n.reconciler().resync();
  n.ds.deleteNode("c"); // deleted while the agent was down
  n.nl.clearCalls();
  const restarted = n.reconciler();
  const r = await restarted.resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  assert.deepEqual([r.routes.added, r.routes.replaced, r.routes.removed], [0, 0, 1]);
  assert.equal(n.v4.restoreCount, 1, "rules not rewritten");
  assert.equal(n.v4.rules("filter", "FORWARD")!.length, 1, "one jump");
  assert.equal(r.conflistWrote, false);
});

Deno.test("reconcile: datastore unreachable keeps every route, reports not ready, recovers", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  const rec = n.reconciler();
  await rec.resync();
  n.ds.deleteNode("b");
  n.ds.disconnect("connection refused");
  const r = await rec.resync();
  assert.deepEqual(
    routesOf(n.handle),
    ["10.244.2.0/24 via 192.168.1.12"],
    "no deletion on stale data",
  );
  assert.equal(r.ready, false);
  assert.ok(r.notReady.some((x) => x.includes("datastore not connected")));
  assert.equal(n.metrics.value(M.datastoreConnected), 0);
  n.ds.reconnect();
  const back = await rec.resync();
  assert.equal(back.ready, true);
  assert.deepEqual(routesOf(n.handle), []);
});

Deno.test("reconcile: a fresh start with the store down keeps routes of the previous run", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  await n.reconciler().resync();
  n.ds.disconnect();
  const rec = n.reconciler();
  const r = await rec.resync();
  assert.ok(r.errors.some((e) => /register/.test(e.message) || /Cannot register/.test(e.message)));
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  assert.equal(r.ready, false);
  assert.equal(n.v4.rules("filter", FILTER_CHAIN)!.length, 4, "rules still ensured");
});

Deno.test("reconcile: no conflist before the node's subnet is known", async () => {
  const n = fakeNode({ peers: [peer("b", 2)], pool: [] });
  const r = await n.reconciler().resync();
  assert.equal(n.fs.file(CONFLIST), undefined);
  assert.ok(r.notReady.includes("this node has no pod subnet yet"));
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  assert.equal(n.handle.getLink("hostgate0"), undefined);
});

Deno.test("reconcile: an off-link peer is skipped with a log line and a metric", async () => {
  const n = fakeNode({
    peers: [peer("b", 2), { name: "far", podCidrs: ["10.244.9.0/24"], addresses: ["172.16.0.9"] }],
  });
  const rec = n.reconciler();
  await rec.resync();
  await rec.resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  assert.equal(n.metrics.value(M.peersSkipped, { reason: "not-on-link" }), 1);
  const lines = n.log.lines.map((l) => l.text)
    .filter((l) => l.includes("peer skipped") && l.includes("peer=far"));
  assert.equal(lines.length, 1, "logged once, not on every pass");
  assert.match(lines[0]!, /reason=not-on-link/);
});

Deno.test("reconcile: a failing kernel call is reported and retried by the next pass", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  n.nl.failNext("addRoute", new Error("Cannot add route: injected"));
  const rec = n.reconciler();
  const r = await rec.resync();
  assert.equal(r.errors.length, 1);
  assert.equal(r.ready, false);
  assert.equal(n.metrics.value(M.reconcileErrors), 1);
  assert.ok(n.fs.file(CONFLIST), "other steps still ran");
  const again = await rec.resync();
  assert.deepEqual(again.errors, []);
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
});

Deno.test("reconcile: a route of another owner on a peer's subnet is left alone", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  n.handle.addRoute({
    family: 4,
    dst: "10.244.2.0/24",
    gateway: "192.168.1.1",
    linkIndex: n.uplink,
    protocol: 4,
  });
  const r = await n.reconciler().resync();
  assert.deepEqual(r.routes.conflicts, ["10.244.2.0/24"]);
  assert.equal(r.ready, false);
  assert.equal(
    n.handle.listRoutes({ family: 4 }).find((x) => x.dst === "10.244.2.0/24")!.protocol,
    4,
  );
});

Deno.test("reconcile: dual-stack cluster gets v6 routes, v6 rules and v6 forwarding", async () => {
  const n = fakeNode({
    flags: ["--cluster-cidr=10.244.0.0/16,fd00:10:244::/56"],
    peers: [{
      name: "b",
      podCidrs: ["10.244.2.0/24", "fd00:10:244:2::/64"],
      addresses: ["192.168.1.12", "fd00:1::12"],
    }],
  });
  n.handle.addAddr({ linkIndex: n.uplink, cidr: "fd00:1::10/64" });
  const r = await n.reconciler().resync();
  assert.deepEqual(r.errors, []);
  assert.deepEqual(routesOf(n.handle), [
    "10.244.2.0/24 via 192.168.1.12",
    "fd00:10:244:2::/64 via fd00:1::12",
  ]);
  assert.equal(n.handle.getSysctl("net/ipv6/conf/all/forwarding"), "1");
  assert.equal(n.v6.rules("filter", FILTER_CHAIN)!.length, 4);
});

Deno.test("reconcile: this node's IP changes: it registers again with the new address", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  const rec = n.reconciler();
  await rec.resync();
  assert.deepEqual(n.ds.nodes().find((x) => x.name === "a")!.addresses, ["192.168.1.10"]);
  n.handle.deleteAddr({ linkIndex: n.uplink, cidr: "192.168.1.10/24" });
  n.handle.addAddr({ linkIndex: n.uplink, cidr: "192.168.1.50/24" });
  const r = await rec.resync();
  assert.deepEqual(r.errors, []);
  const self = n.ds.nodes().find((x) => x.name === "a")!;
  assert.deepEqual(self.addresses, ["192.168.1.50"]);
  assert.deepEqual(self.podCidrs, ["10.244.1.0/24"], "the subnet stays");
  assert.equal(n.ds.calls.filter((c) => c === "register").length, 2);
});
