import assert from "node:assert/strict";
import { FakeNetlink } from "./fake_netlink.ts";
import {
  ExistsError,
  LinkExistsError,
  LinkNotFoundError,
  NetlinkError,
  NoSuchNetnsError,
  NotFoundError,
} from "./errors.ts";
import type { RouteEvent } from "./types.ts";

const POD = "/run/netns/pod1";

function setup() {
  const fake = new FakeNetlink();
  fake.addNetns(POD);
  const host = fake.open();
  const br = host.addBridge({ name: "hostgate0", mtu: 1450 });
  host.setLinkUp(br.index);
  host.addAddr({ linkIndex: br.index, cidr: "10.22.0.1/24" });
  const veth = host.addVeth({
    name: "veth1",
    peerName: "eth0",
    peerNetns: POD,
    mtu: 1450,
    peerMac: "02:00:00:00:00:05",
  });
  return { fake, host, br, veth };
}

Deno.test("fake: veth peer lands in the other netns with the requested mac", () => {
  const { fake, veth } = setup();
  const pod = fake.open(POD);
  const eth0 = pod.getLink("eth0")!;
  assert.equal(eth0.mac, "02:00:00:00:00:05");
  assert.equal(eth0.peerIndex, veth.index);
  assert.equal(veth.peerIndex, eth0.index);
  assert.equal(eth0.mtu, 1450);
  assert.equal(pod.getLink("veth1"), undefined);
  assert.deepEqual(pod.listLinks().map((l) => l.name), ["lo", "eth0"]);
});

Deno.test("fake: duplicate names and missing netns are typed errors", () => {
  const { fake, host } = setup();
  assert.throws(() => host.addBridge({ name: "hostgate0" }), LinkExistsError);
  assert.throws(
    () => host.addVeth({ name: "veth2", peerName: "eth0", peerNetns: POD }),
    LinkExistsError,
  );
  assert.throws(
    () => host.addVeth({ name: "veth2", peerName: "eth0", peerNetns: "/run/netns/nope" }),
    NoSuchNetnsError,
  );
  assert.throws(() => fake.open("/run/netns/nope"), NoSuchNetnsError);
  assert.throws(
    () => host.addBridge({ name: "a-name-too-long-x" }),
    (e) => e instanceof NetlinkError && e.errno === 22,
  );
  assert.equal(host.getLink("veth2"), undefined, "failed add leaves nothing behind");
});

Deno.test("fake: deleting a veth removes its peer, addresses and routes", () => {
  const { fake, host, br, veth } = setup();
  host.setMaster(veth.index, br.index);
  const pod = fake.open(POD);
  const eth0 = pod.getLink("eth0")!;
  pod.setLinkUp(eth0.index);
  pod.addAddr({ linkIndex: eth0.index, cidr: "10.22.0.5/24" });
  pod.addRoute({ family: 4, dst: "0.0.0.0/0", gateway: "10.22.0.1" });
  assert.equal(pod.listRoutes().length, 2);
  host.deleteLink(veth.index);
  assert.equal(pod.getLink("eth0"), undefined);
  assert.deepEqual(pod.listAddrs(), []);
  assert.deepEqual(pod.listRoutes(), []);
  assert.throws(() => host.deleteLink(veth.index), LinkNotFoundError);
  fake.deleteNetns(POD);
  assert.throws(() => fake.open(POD), NoSuchNetnsError);
});

Deno.test("fake: deleting a netns takes the host side of its veths", () => {
  const { fake, host } = setup();
  fake.deleteNetns(POD);
  assert.equal(host.getLink("veth1"), undefined);
});

Deno.test("fake: bridge port master, hairpin and deletion of the bridge", () => {
  const { host, br, veth } = setup();
  assert.throws(
    () => host.setHairpin(veth.index, true),
    (e) => e instanceof NetlinkError && e.errno === 95,
  );
  host.setMaster(veth.index, br.index);
  host.setHairpin(veth.index, true);
  assert.deepEqual(
    [host.getLink("veth1")!.master, host.getLink("veth1")!.hairpin],
    [br.index, true],
  );
  host.deleteLink(br.index);
  const after = host.getLink("veth1")!;
  assert.equal(after.master, undefined);
  assert.equal(after.hairpin, undefined);
  assert.throws(() => host.setMtu(9999, 1500), LinkNotFoundError);
  assert.throws(() => host.setMtu(veth.index, 10), NetlinkError);
});

Deno.test("fake: addresses follow kernel rules (EEXIST, EADDRNOTAVAIL, prefix route)", () => {
  const { host, br } = setup();
  assert.throws(() => host.addAddr({ linkIndex: br.index, cidr: "10.22.0.1/24" }), ExistsError);
  host.addAddr({ linkIndex: br.index, cidr: "10.22.0.1/25" });
  host.addAddr({ linkIndex: br.index, cidr: "fd00::1/64" });
  assert.throws(() => host.addAddr({ linkIndex: br.index, cidr: "fd00::1/80" }), ExistsError);
  assert.throws(() => host.addAddr({ linkIndex: 99, cidr: "10.0.0.1/8" }), LinkNotFoundError);
  assert.deepEqual(
    host.listRoutes({ linkIndex: br.index }).map((r) => [r.dst, r.protocol, r.scope]),
    [["10.22.0.0/24", 2, "link"], ["10.22.0.0/25", 2, "link"], ["fd00::/64", 2, "universe"]],
  );
  host.deleteAddr({ linkIndex: br.index, cidr: "10.22.0.1/24" });
  assert.throws(
    () => host.deleteAddr({ linkIndex: br.index, cidr: "10.22.0.1/24" }),
    NotFoundError,
  );
  assert.deepEqual(host.listAddrs({ family: 4 }).map((a) => a.cidr), ["10.22.0.1/25"]);
  assert.equal(host.listRoutes({ family: 4 }).length, 1);
});

Deno.test("fake: routes — unreachable gateway, EEXIST, replace, filters, ESRCH", () => {
  const { host, br } = setup();
  const r = { family: 4 as const, dst: "10.30.0.0/24", gateway: "10.22.0.7", protocol: 151 };
  assert.throws(
    () => host.addRoute({ ...r, gateway: "10.99.0.1" }),
    (e) => e instanceof NetlinkError && e.errno === 101,
  );
  assert.throws(() => host.addRoute({ ...r, dst: "10.30.0.1/24" }), NetlinkError);
  host.addRoute(r);
  assert.throws(() => host.addRoute(r), ExistsError);
  host.replaceRoute({ ...r, gateway: "10.22.0.8" });
  host.addRoute({
    family: 4,
    dst: "10.40.0.0/24",
    gateway: "10.9.9.9",
    linkIndex: br.index,
    onlink: true,
    protocol: 151,
  });
  const mine = host.listRoutes({ protocol: 151 });
  assert.deepEqual(mine.map((x) => [x.dst, x.gateway, x.linkIndex, x.onlink]), [
    ["10.30.0.0/24", "10.22.0.8", br.index, undefined],
    ["10.40.0.0/24", "10.9.9.9", br.index, true],
  ]);
  assert.equal(host.listRoutes({ protocol: 151, table: 100 }).length, 0);
  host.deleteRoute({ family: 4, dst: "10.30.0.0/24", protocol: 151 });
  assert.throws(() => host.deleteRoute({ family: 4, dst: "10.30.0.0/24" }), NotFoundError);
  host.setLinkDown(br.index);
  assert.deepEqual(host.listRoutes(), [], "link down drops its routes");
  assert.throws(
    () => host.addRoute({ family: 4, dst: "10.50.0.0/24", linkIndex: br.index }),
    (e) => e instanceof NetlinkError && e.errno === 100,
  );
});

Deno.test("fake: neighbours and fdb entries", () => {
  const { host, br } = setup();
  const vx = host.addVxlan({ name: "vx0", vni: 1, port: 4789, learning: false });
  assert.throws(() => host.addVxlan({ name: "vx1", vni: 1, port: 4789 }), LinkExistsError);
  assert.deepEqual(host.getLink("vx0")!.vxlan, { vni: 1, port: 4789, learning: false });
  host.setNeighbor({
    linkIndex: br.index,
    ip: "10.22.0.9",
    mac: "02:00:00:00:00:09",
    permanent: true,
  });
  host.setNeighbor({
    linkIndex: br.index,
    ip: "10.22.0.9",
    mac: "02:00:00:00:00:0A",
    permanent: true,
  });
  assert.deepEqual(host.listNeighbors().map((n) => n.mac), ["02:00:00:00:00:0a".toLowerCase()]);
  host.deleteNeighbor({ linkIndex: br.index, ip: "10.22.0.9" });
  assert.throws(() => host.deleteNeighbor({ linkIndex: br.index, ip: "10.22.0.9" }), NotFoundError);
  const zero = "00:00:00:00:00:00";
  host.appendFdb({ linkIndex: vx.index, mac: zero, dst: "192.168.0.2" });
  host.appendFdb({ linkIndex: vx.index, mac: zero, dst: "192.168.0.3" });
  host.appendFdb({ linkIndex: vx.index, mac: zero, dst: "192.168.0.3" });
  host.setFdb({ linkIndex: vx.index, mac: "02:00:00:00:00:01", dst: "192.168.0.2" });
  host.setFdb({ linkIndex: vx.index, mac: "02:00:00:00:00:01", dst: "192.168.0.4" });
  assert.deepEqual(host.listFdb({ linkIndex: vx.index }).map((e) => e.dst), [
    "192.168.0.2",
    "192.168.0.3",
    "192.168.0.4",
  ]);
  host.deleteFdb({ linkIndex: vx.index, mac: zero, dst: "192.168.0.2" });
  assert.throws(
    () => host.deleteFdb({ linkIndex: vx.index, mac: zero, dst: "192.168.0.2" }),
    NotFoundError,
  );
  host.deleteLink(vx.index);
  assert.deepEqual(host.listFdb(), []);
});

Deno.test("fake: sysctls have kernel defaults, per netns, and vanish with the link", () => {
  const { fake, host } = setup();
  const pod = fake.open(POD);
  assert.equal(pod.getSysctl("net/ipv6/conf/eth0/accept_dad"), "1");
  pod.setSysctl("net/ipv6/conf/eth0/accept_dad", "0");
  assert.equal(pod.getSysctl("net/ipv6/conf/eth0/accept_dad"), "0");
  assert.equal(host.getSysctl("net/ipv6/conf/veth1/accept_dad"), "1");
  assert.throws(() => pod.getSysctl("net/ipv6/conf/nope/accept_dad"), NotFoundError);
  assert.throws(() => pod.setSysctl("net/ipv4/ip_forward", "yes"), NetlinkError);
  assert.throws(
    () => pod.getSysctl("../etc/passwd"),
    (e) => e instanceof NetlinkError && e.errno === 22,
  );
  fake.state(POD).sysctls.set("net/core/somaxconn", "4096");
  assert.equal(pod.getSysctl("net/core/somaxconn"), "4096");
});

Deno.test("fake: failNext and failWhen fail before any effect; calls are logged", () => {
  const { fake, host, br } = setup();
  fake.clearCalls();
  fake.failNext("addAddr", new NetlinkError(28, "Cannot add address: no space"));
  assert.throws(() => host.addAddr({ linkIndex: br.index, cidr: "10.23.0.1/24" }), /no space/);
  host.addAddr({ linkIndex: br.index, cidr: "10.23.0.1/24" });
  const stop = fake.failWhen((c) =>
    c.op === "addVeth" && (c.args[0] as { peerName: string }).peerName === "eth9"
      ? new NetlinkError(1, "Cannot add veth: denied")
      : undefined
  );
  assert.throws(() => host.addVeth({ name: "veth9", peerName: "eth9", peerNetns: POD }), /denied/);
  assert.equal(host.getLink("veth9"), undefined);
  stop();
  host.addVeth({ name: "veth9", peerName: "eth9", peerNetns: POD });
  assert.deepEqual(fake.calls.map((c) => c.op), [
    "addAddr",
    "addAddr",
    "addVeth",
    "getLink",
    "addVeth",
  ]);
  assert.equal(fake.callsOf("addVeth")[1]!.netns, "");
});

Deno.test("fake: closed handle refuses work", () => {
  const { host } = setup();
  host.close();
  assert.throws(() => host.listLinks(), /closed/);
});

Deno.test("fake: route monitor sees adds and deletes until aborted", async () => {
  const { fake, br } = setup();
  const ac = new AbortController();
  const events: RouteEvent[] = [];
  const done = fake.monitorRoutes({ signal: ac.signal, onEvent: (e) => events.push(e) });
  const host = fake.open();
  host.addRoute({ family: 4, dst: "10.60.0.0/24", gateway: "10.22.0.2", protocol: 151 });
  host.deleteRoute({ family: 4, dst: "10.60.0.0/24" });
  await Promise.resolve();
  assert.deepEqual(events.map((e) => [e.kind, e.route.dst, e.route.linkIndex]), [
    ["add", "10.60.0.0/24", br.index],
    ["delete", "10.60.0.0/24", br.index],
  ]);
  ac.abort();
  await done;
  host.addRoute({ family: 4, dst: "10.61.0.0/24", gateway: "10.22.0.2" });
  await Promise.resolve();
  assert.equal(events.length, 2);
  await assert.rejects(
    fake.monitorRoutes({ netns: "/run/netns/nope", signal: ac.signal, onEvent: () => {} }),
    NoSuchNetnsError,
  );
});
