import assert from "node:assert/strict";
import type { NodeInfo } from "../../datastore/mod.ts";
import { installCommand, parseConfig, statusCommand, uninstallCommand } from "../cli/mod.ts";
import { IptablesDriver } from "../firewall/mod.ts";
import { M } from "../observe/mod.ts";
import { Reconciler } from "../reconcile/mod.ts";
import { commandDeps, fakeNode, NETLINK_WRITES, peer } from "../testing/mod.ts";
import { vtepMac } from "../testing/mac.ts";
import { readVxlanEntries } from "./vxlan.ts";
import { validVtepMac } from "./vtep.ts";

/** The MAC of node a's vxlan device (random, chosen at its first pass). */
const macOf = (n: { handle: { getLink(name: string): { mac: string } | undefined } }) =>
  n.handle.getLink("hostgate.1")!.mac;

const CONFLIST = "/etc/cni/net.d/10-hostgate.conflist";

/** peer() with its VTEP; `ip` overrides the on-link node IP 192.168.1.(10+n). */
function vpeer(name: string, n: number, ip?: string): NodeInfo {
  const vtepIp = `10.244.${n}.0`;
  return peer(name, n, {
    vtep: { ip: vtepIp, mac: vtepMac(vtepIp) },
    ...(ip ? { addresses: [ip] } : {}),
  });
}

type Node = ReturnType<typeof fakeNode>;

/** Routes as "dst via gw dev name [onlink]", sorted. */
function routes(n: Node): string[] {
  const names = new Map(n.handle.listLinks().map((l) => [l.index, l.name]));
  return n.handle.listRoutes({ family: 4, protocol: 151 }).map((r) =>
    `${r.dst} via ${r.gateway} dev ${names.get(r.linkIndex!)}${r.onlink ? " onlink" : ""}`
  ).sort();
}

/** Neighbour and FDB entries of the vxlan device as text, sorted. */
function entries(n: Node): { neigh: string[]; fdb: string[] } {
  const dev = n.handle.getLink("hostgate.1");
  if (!dev) return { neigh: [], fdb: [] };
  const e = readVxlanEntries(n.handle, dev.index);
  return {
    neigh: e.neighbors.map((x) => `${x.ip} ${x.mac}${x.permanent ? " permanent" : ""}`).sort(),
    fdb: e.fdb.map((x) => `${x.mac} ${x.dst}`).sort(),
  };
}

const writesOf = (n: Node) => n.nl.calls.filter((c) => NETLINK_WRITES.includes(c.op));

Deno.test("vxlan reconcile: the first pass creates device, routes, neighbours and FDB entries", async () => {
  const n = fakeNode({
    flags: ["--backend=auto"],
    peers: [vpeer("near", 2), vpeer("far", 3, "172.16.0.3")],
  });
  const r = await n.reconciler().resync();
  assert.deepEqual(r.errors, []);
  assert.equal(r.ready, true, r.notReady.join("; "));
  const dev = n.handle.getLink("hostgate.1")!;
  const SELF_MAC = dev.mac;
  assert.ok(validVtepMac(SELF_MAC), SELF_MAC);
  assert.notEqual(SELF_MAC, vtepMac("10.244.1.0"), "random, not derived from the address");
  assert.deepEqual(
    [dev.kind, dev.mtu, dev.mac, dev.up, dev.vxlan],
    ["vxlan", 1400, SELF_MAC, true, {
      vni: 1,
      port: 8472,
      local: "192.168.1.10",
      underlay: n.uplink,
      learning: false,
    }],
  );
  assert.deepEqual(n.handle.listAddrs({ linkIndex: dev.index }).map((a) => a.cidr), [
    "10.244.1.0/32",
  ]);
  assert.deepEqual(routes(n), [
    "10.244.2.0/24 via 192.168.1.12 dev eth0",
    "10.244.3.0/24 via 10.244.3.0 dev hostgate.1 onlink",
  ]);
  assert.deepEqual(entries(n), {
    neigh: ["10.244.3.0 0e:68:0a:f4:03:00 permanent"],
    fdb: ["0e:68:0a:f4:03:00 172.16.0.3"],
  });
  assert.deepEqual(n.ds.nodes().find((x) => x.name === "a")!.vtep, {
    ip: "10.244.1.0",
    mac: SELF_MAC,
  });
  assert.equal(JSON.parse(n.fs.file(CONFLIST)!).plugins[0].mtu, 1400, "uplink 1450 - 50");
  assert.equal(n.metrics.value(M.vxlanPeers), 1);
  // Entries exist before the route that points at them.
  const ops = n.nl.calls.map((c) => c.op);
  assert.ok(ops.indexOf("setNeighbor") < ops.lastIndexOf("addRoute"));
  assert.ok(ops.indexOf("setFdb") < ops.indexOf("setNeighbor"));
});

Deno.test("vxlan reconcile: a second pass over unchanged input writes nothing", async () => {
  const n = fakeNode({
    flags: ["--backend=vxlan"],
    peers: [vpeer("near", 2), vpeer("far", 3, "172.16.0.3")],
  });
  const rec = n.reconciler();
  await rec.resync();
  assert.deepEqual(routes(n), [
    "10.244.2.0/24 via 10.244.2.0 dev hostgate.1 onlink",
    "10.244.3.0/24 via 10.244.3.0 dev hostgate.1 onlink",
  ]);
  n.nl.clearCalls();
  const registers = n.ds.calls.filter((c) => c === "register").length;
  const r = await rec.resync();
  assert.equal(r.writes, 0);
  assert.deepEqual(writesOf(n), []);
  assert.equal(n.ds.calls.filter((c) => c === "register").length, registers, "no re-register");
});

Deno.test("vxlan reconcile: a gone peer takes its route, neighbour and FDB entry along", async () => {
  const n = fakeNode({
    flags: ["--backend=auto"],
    peers: [vpeer("far", 3, "172.16.0.3"), vpeer("farther", 4, "172.16.0.4")],
  });
  const rec = n.reconciler();
  await rec.resync();
  assert.equal(entries(n).fdb.length, 2);
  n.ds.deleteNode("far");
  await rec.resync();
  assert.deepEqual(routes(n), ["10.244.4.0/24 via 10.244.4.0 dev hostgate.1 onlink"]);
  assert.deepEqual(entries(n), {
    neigh: ["10.244.4.0 0e:68:0a:f4:04:00 permanent"],
    fdb: ["0e:68:0a:f4:04:00 172.16.0.4"],
  });
  // The datastore down: nothing is deleted on stale knowledge.
  n.ds.deleteNode("farther");
  n.ds.disconnect();
  await rec.resync();
  assert.equal(entries(n).fdb.length, 1);
  n.ds.reconnect();
  await rec.resync();
  assert.deepEqual(entries(n), { neigh: [], fdb: [] });
  assert.deepEqual(routes(n), []);
});

Deno.test("vxlan reconcile: a peer moving onto and off the segment switches mode", async () => {
  const n = fakeNode({ flags: ["--backend=auto"], peers: [vpeer("b", 2, "172.16.0.2")] });
  const rec = n.reconciler();
  await rec.resync();
  assert.deepEqual(routes(n), ["10.244.2.0/24 via 10.244.2.0 dev hostgate.1 onlink"]);
  n.ds.setNode(vpeer("b", 2)); // now 192.168.1.12, on-link
  n.nl.clearCalls();
  const on = await rec.resync();
  assert.deepEqual(routes(n), ["10.244.2.0/24 via 192.168.1.12 dev eth0"]);
  assert.deepEqual(entries(n), { neigh: [], fdb: [] }, "the old tunnel entries are gone");
  assert.equal(on.routes.replaced, 1, "replaced in place");
  assert.equal(n.nl.callsOf("deleteRoute").length, 0);
  n.ds.setNode(vpeer("b", 2, "172.16.0.22")); // another segment again, another IP
  await rec.resync();
  assert.deepEqual(routes(n), ["10.244.2.0/24 via 10.244.2.0 dev hostgate.1 onlink"]);
  assert.deepEqual(entries(n).fdb, ["0e:68:0a:f4:02:00 172.16.0.22"]);
  n.ds.setNode(vpeer("b", 2, "172.16.0.23")); // IP change on the far segment: FDB follows
  n.nl.clearCalls();
  await rec.resync();
  assert.deepEqual(entries(n).fdb, ["0e:68:0a:f4:02:00 172.16.0.23"]);
  assert.deepEqual(writesOf(n).map((c) => c.op), ["setFdb"], "one write, nothing flaps");
});

Deno.test("vxlan reconcile: a restart keeps the VTEP announced and clears stale entries", async () => {
  const n = fakeNode({
    flags: ["--backend=auto"],
    peers: [vpeer("b", 2, "172.16.0.2"), vpeer("c", 3, "172.16.0.3")],
  });
  await n.reconciler().resync();
  const SELF_MAC = macOf(n);
  n.ds.deleteNode("c"); // gone while the agent was down
  const dev = n.handle.getLink("hostgate.1")!;
  // Debris an older run could have left on the device.
  n.handle.setNeighbor({
    linkIndex: dev.index,
    ip: "10.244.9.0",
    mac: vtepMac("10.244.9.0"),
    permanent: true,
  });
  n.handle.setFdb({ linkIndex: dev.index, mac: vtepMac("10.244.9.0"), dst: "172.16.0.9" });
  const announced: (string | undefined)[] = [];
  const register = n.ds.register.bind(n.ds);
  n.ds.register = (self) => {
    announced.push(self.vtep?.mac);
    return register(self);
  };
  n.nl.clearCalls();
  const r = await n.reconciler().resync();
  assert.deepEqual(r.errors, []);
  assert.deepEqual(announced, [SELF_MAC], "registered once, with its VTEP from the start");
  assert.deepEqual(entries(n), {
    neigh: ["10.244.2.0 0e:68:0a:f4:02:00 permanent"],
    fdb: ["0e:68:0a:f4:02:00 172.16.0.2"],
  });
  assert.deepEqual(routes(n), ["10.244.2.0/24 via 10.244.2.0 dev hostgate.1 onlink"]);
  assert.equal(n.nl.callsOf("addVxlan").length, 0, "the device is kept");
  assert.equal(n.nl.callsOf("setNeighbor").length + n.nl.callsOf("setFdb").length, 0);
});

Deno.test("vxlan reconcile: this node's IP changes: device recreated, entries back in one pass", async () => {
  const n = fakeNode({ flags: ["--backend=vxlan"], peers: [vpeer("b", 2)] });
  const rec = n.reconciler();
  await rec.resync();
  const SELF_MAC = macOf(n);
  n.handle.deleteAddr({ linkIndex: n.uplink, cidr: "192.168.1.10/24" });
  n.handle.addAddr({ linkIndex: n.uplink, cidr: "192.168.1.50/24" });
  const r = await rec.resync();
  assert.deepEqual(r.errors, []);
  const dev = n.handle.getLink("hostgate.1")!;
  assert.equal(dev.vxlan!.local, "192.168.1.50");
  assert.equal(dev.mac, SELF_MAC);
  assert.deepEqual(routes(n), ["10.244.2.0/24 via 10.244.2.0 dev hostgate.1 onlink"]);
  assert.deepEqual(entries(n).fdb, ["0e:68:0a:f4:02:00 192.168.1.12"]);
  assert.deepEqual(n.ds.nodes().find((x) => x.name === "a")!.addresses, ["192.168.1.50"]);
  assert.equal((await rec.resync()).writes, 0);
});

Deno.test("vxlan reconcile: host-gw removes a device left by an overlay run; MTU back to the uplink's", async () => {
  const n = fakeNode({ flags: ["--backend=auto"], peers: [vpeer("b", 2, "172.16.0.2")] });
  await n.reconciler().resync();
  // Same node (kernel, files, datastore), restarted with the default backend.
  const cfg = parseConfig(["run", "--node-name=a", "--plugin-src=/opt/hostgate/hostgate"], {
    env: {},
    hostname: "a",
  });
  const rec = new Reconciler({
    config: cfg,
    handle: n.handle,
    datastore: n.ds,
    firewall: new IptablesDriver({ v4: n.v4, v6: n.v6 }),
    fs: n.fs,
    metrics: n.metrics,
    log: n.log,
    clock: n.clock,
    onDatastoreChange: () => {},
  });
  const r = await rec.resync();
  assert.deepEqual(r.errors, []);
  assert.equal(n.handle.getLink("hostgate.1"), undefined);
  assert.deepEqual(routes(n), [], "b is off-link: no host-gw route");
  assert.equal(n.ds.nodes().find((x) => x.name === "a")!.vtep, undefined, "VTEP withdrawn");
  assert.equal(JSON.parse(n.fs.file(CONFLIST)!).plugins[0].mtu, 1450);
});

Deno.test("vxlan status and uninstall: tunnel entries checked, device removed", async () => {
  const n = fakeNode({ flags: ["--backend=auto"], peers: [vpeer("b", 2, "172.16.0.2")] });
  await n.reconciler().resync();
  const ok = commandDeps(n, ["status", "--backend=auto", "--timeout=1s"]);
  assert.equal(await statusCommand(ok), 0, ok.out.join(""));
  assert.match(ok.out.join(""), /b\s+ipv4\s+172\.16\.0\.2\s+10\.244\.2\.0\/24\s+vxlan\s+present/);
  const dev = n.handle.getLink("hostgate.1")!;
  n.handle.deleteFdb({ linkIndex: dev.index, mac: vtepMac("10.244.2.0") });
  const bad = commandDeps(n, ["status", "--backend=auto", "--timeout=1s"]);
  assert.equal(await statusCommand(bad), 1);
  assert.match(bad.out.join(""), /vxlan\s+wrong\s+fdb missing/);
  const un = commandDeps(n, ["uninstall", "--backend=auto"]);
  assert.equal(await uninstallCommand(un), 0);
  assert.equal(n.handle.getLink("hostgate.1"), undefined);
  assert.deepEqual(routes(n), []);
});

Deno.test("vxlan install: an init container keeps the VTEP and writes the overlay MTU", async () => {
  const n = fakeNode({ flags: ["--backend=auto"], peers: [vpeer("b", 2, "172.16.0.2")] });
  await n.reconciler().resync();
  const SELF_MAC = macOf(n);
  await n.fs.remove(CONFLIST);
  const d = commandDeps(n, ["install", "--backend=auto", "--timeout=1s"]);
  assert.equal(await installCommand(d), 0);
  assert.deepEqual(n.ds.nodes().find((x) => x.name === "a")!.vtep, {
    ip: "10.244.1.0",
    mac: SELF_MAC,
  });
  assert.equal(JSON.parse(n.fs.file(CONFLIST)!).plugins[0].mtu, 1400);
});

Deno.test("vxlan reconcile: a deleted device comes back with the MAC its peers have", async () => {
  const n = fakeNode({ flags: ["--backend=vxlan"], peers: [vpeer("b", 2)] });
  const rec = n.reconciler();
  await rec.resync();
  const mac = macOf(n);
  n.handle.deleteLink(n.handle.getLink("hostgate.1")!.index);
  const r = await rec.resync();
  assert.deepEqual(r.errors, []);
  assert.equal(macOf(n), mac, "the announced MAC is reused, not a new random one");
  assert.equal(n.ds.nodes().find((x) => x.name === "a")!.vtep?.mac, mac);
});

Deno.test("vxlan reconcile: two nodes draw different MACs", async () => {
  const macs = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const n = fakeNode({ flags: ["--backend=vxlan"], peers: [vpeer("b", 2)] });
    await n.reconciler().resync();
    macs.add(macOf(n));
  }
  assert.equal(macs.size, 4);
});
