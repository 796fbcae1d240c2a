/**
 * Root-only: the FFI netlink layer against the real kernel, in throwaway
 * namespaces named hgnl-*. Every outcome is read back with `ip -j` / `bridge
 * -j`, and every test checks that the root netns did not change.
 */
import assert from "node:assert/strict";
import { isRoot, type NetnsSet, run, sh, withNetns } from "./helpers/netns.ts";
import {
  ExistsError,
  FfiNetlink,
  LinkExistsError,
  LinkNotFoundError,
  NetlinkError,
  NoSuchNetnsError,
  NotFoundError,
  type RouteEvent,
} from "../src/system/netlink/mod.ts";
import { until } from "./helpers/until.ts";

const ignore = !isRoot();
const nl = ignore ? undefined! : new FfiNetlink();

// deno-lint-ignore no-explicit-any
type Json = any;

async function ipj(ns: string | undefined, args: string[]): Promise<Json> {
  const argv = ns === undefined ? ["ip", "-j", ...args] : ["ip", "-n", ns, "-j", ...args];
  const out = await sh(argv);
  return out.trim() === "" ? [] : JSON.parse(out);
}

/** A read-only picture of the root netns: links, addresses and routes. */
async function rootPicture(): Promise<string> {
  const links = (await ipj(undefined, ["link"])).map((
    l: Json,
  ) => [
    l.ifindex,
    l.ifname,
    l.mtu,
    l.address,
    l.master,
    l.flags.filter((f: string) => f === "UP"),
  ]);
  const addrs = (await ipj(undefined, ["addr"])).map((
    a: Json,
  ) => [a.ifname, a.addr_info.map((i: Json) => `${i.local}/${i.prefixlen}`).sort()]);
  const routes = [];
  for (const fam of ["-4", "-6"]) {
    for (const r of await ipj(undefined, [fam, "route", "show", "table", "all"])) {
      routes.push([r.dst, r.gateway, r.dev, r.protocol, r.metric, r.table, r.type]);
    }
  }
  return JSON.stringify({ links, addrs, routes: routes.map((r) => JSON.stringify(r)).sort() });
}

/** Runs a test body in fresh hgnl-* namespaces and proves the root netns is untouched. */
function nsTest(name: string, fn: (ns: NetnsSet) => Promise<void>): void {
  Deno.test({
    name,
    ignore,
    fn: async () => {
      const before = await rootPicture();
      await withNetns("hgnl", fn);
      assert.equal(await rootPicture(), before, "root netns changed");
    },
  });
}

nsTest("links: bridge, veth with its peer in another netns, attributes", async (ns) => {
  const node = await ns.add("node");
  const pod = await ns.add("pod");
  const h = nl.open(ns.path(node));
  try {
    const br = h.addBridge({ name: "hgbr0", mtu: 1400, mac: "02:42:00:00:00:01" });
    assert.deepEqual([br.kind, br.mtu, br.mac, br.up], [
      "bridge",
      1400,
      "02:42:00:00:00:01",
      false,
    ]);
    const veth = h.addVeth({
      name: "hgveth0",
      peerName: "hgpod0",
      peerNetns: ns.path(pod),
      mtu: 1400,
      peerMac: "02:42:00:00:00:02",
    });
    h.setMaster(veth.index, br.index);
    h.setLinkUp(br.index);
    h.setLinkUp(veth.index);
    h.setHairpin(veth.index, true);
    h.setPromisc(br.index, true);
    h.setMtu(veth.index, 1380);
    h.setMac(veth.index, "02:42:00:00:00:03");

    const [k] = await ipj(node, ["-d", "link", "show", "hgveth0"]);
    assert.equal(k.master, "hgbr0");
    assert.equal(k.mtu, 1380);
    assert.equal(k.address, "02:42:00:00:00:03");
    assert.ok(k.flags.includes("UP"));
    assert.equal(k.linkinfo.info_kind, "veth");
    assert.equal(k.linkinfo.info_slave_data.hairpin, true);
    const [kbr] = await ipj(node, ["link", "show", "hgbr0"]);
    assert.ok(kbr.flags.includes("PROMISC"));

    const got = h.getLink("hgveth0")!;
    assert.deepEqual(
      [got.index, got.kind, got.mtu, got.mac, got.up, got.master, got.hairpin],
      [k.ifindex, "veth", 1380, "02:42:00:00:00:03", true, br.index, true],
    );
    assert.equal(h.getLinkByIndex(br.index)!.promisc, true);
    assert.deepEqual(
      h.listLinks().map((l) => l.name).sort(),
      (await ipj(node, ["link"])).map((l: Json) => l.ifname).sort(),
    );
    const [peer] = await ipj(pod, ["link", "show", "hgpod0"]);
    assert.equal(peer.address, "02:42:00:00:00:02");
    assert.equal(peer.mtu, 1400);
    assert.equal(got.peerIndex, peer.ifindex);

    h.setHairpin(veth.index, false);
    h.setPromisc(br.index, false);
    h.setMaster(veth.index, 0);
    h.setLinkDown(veth.index);
    const [k2] = await ipj(node, ["-d", "link", "show", "hgveth0"]);
    assert.equal(k2.master, undefined);
    assert.ok(!k2.flags.includes("UP"));
    assert.ok(!(await ipj(node, ["link", "show", "hgbr0"]))[0].flags.includes("PROMISC"));

    h.deleteLink(veth.index);
    assert.equal(h.getLink("hgveth0"), undefined);
    assert.equal((await run(["ip", "-n", pod, "link", "show", "hgpod0"])).code, 1, "peer gone");
  } finally {
    h.close();
  }
});

nsTest("addresses v4 and v6: add, list, typed errors, delete", async (ns) => {
  const node = await ns.add("node");
  const h = nl.open(ns.path(node));
  try {
    const br = h.addBridge({ name: "hgbr0" });
    h.setLinkUp(br.index);
    h.addAddr({ linkIndex: br.index, cidr: "10.88.0.1/24" });
    h.addAddr({ linkIndex: br.index, cidr: "fd00:88::1/64", noDad: true });
    const [k] = await ipj(node, ["addr", "show", "hgbr0"]);
    const info = k.addr_info.map((i: Json) => [i.family, `${i.local}/${i.prefixlen}`, i.broadcast]);
    assert.deepEqual(info.filter((i: Json) => !i[1].startsWith("fe80")), [
      ["inet", "10.88.0.1/24", "10.88.0.255"],
      ["inet6", "fd00:88::1/64", undefined],
    ]);
    assert.ok(!k.addr_info.find((i: Json) => i.local === "fd00:88::1").tentative, "nodad");
    const mine = h.listAddrs({ linkIndex: br.index }).filter((a) => !a.cidr.startsWith("fe80"));
    assert.deepEqual(mine, [
      { linkIndex: br.index, cidr: "10.88.0.1/24", family: 4 },
      { linkIndex: br.index, cidr: "fd00:88::1/64", family: 6 },
    ]);
    assert.ok(h.listAddrs({ family: 6 }).every((a) => a.family === 6));
    assert.throws(() => h.addAddr({ linkIndex: br.index, cidr: "10.88.0.1/24" }), ExistsError);
    assert.throws(() => h.addAddr({ linkIndex: 9999, cidr: "10.89.0.1/24" }), LinkNotFoundError);
    h.deleteAddr({ linkIndex: br.index, cidr: "10.88.0.1/24" });
    h.deleteAddr({ linkIndex: br.index, cidr: "fd00:88::1/64" });
    assert.throws(() => h.deleteAddr({ linkIndex: br.index, cidr: "10.88.0.1/24" }), NotFoundError);
    assert.throws(
      () => h.deleteAddr({ linkIndex: br.index, cidr: "fd00:88::1/64" }),
      NotFoundError,
    );
    const left = (await ipj(node, ["addr", "show", "hgbr0"]))[0].addr_info;
    assert.deepEqual(left.filter((i: Json) => !i.local.startsWith("fe80")), []);
  } finally {
    h.close();
  }
});

nsTest("routes: protocol 151 listed, filtered, replaced, deleted; onlink; defaults", async (ns) => {
  const node = await ns.add("node");
  const peer = await ns.add("peer");
  const h = nl.open(ns.path(node));
  try {
    const v = h.addVeth({ name: "hgv0", peerName: "hgv1", peerNetns: ns.path(peer) });
    await sh(["ip", "-n", peer, "link", "set", "hgv1", "up"]);
    h.setLinkUp(v.index);
    h.addAddr({ linkIndex: v.index, cidr: "10.90.0.1/24" });
    h.addAddr({ linkIndex: v.index, cidr: "fd00:90::1/64", noDad: true });
    const r = { family: 4 as const, dst: "10.91.0.0/24", gateway: "10.90.0.2", protocol: 151 };
    h.addRoute({ ...r, metric: 20 });
    assert.throws(() => h.addRoute({ ...r, metric: 20 }), ExistsError);
    h.addRoute({
      family: 4,
      dst: "10.92.0.0/24",
      gateway: "10.90.0.3",
      protocol: 151,
      table: 1000,
    });
    h.addRoute({ family: 4, dst: "0.0.0.0/0", gateway: "10.90.0.9", protocol: 151 });
    h.addRoute({ family: 6, dst: "::/0", gateway: "fd00:90::9", protocol: 151 });
    h.addRoute({
      family: 4,
      dst: "10.93.0.0/24",
      gateway: "192.168.77.1",
      linkIndex: v.index,
      onlink: true,
      protocol: 151,
    });
    h.addRoute({ family: 4, dst: "10.94.0.0/24", linkIndex: v.index, src: "10.90.0.1" });

    const k = await ipj(node, ["route", "show", "proto", "151"]);
    assert.deepEqual(k.map((x: Json) => [x.dst, x.gateway, x.metric, x.flags]).sort(), [
      ["10.91.0.0/24", "10.90.0.2", 20, []],
      ["10.93.0.0/24", "192.168.77.1", undefined, ["onlink"]],
      ["default", "10.90.0.9", undefined, []],
    ]);
    const mine = h.listRoutes({ protocol: 151 });
    assert.deepEqual(mine.map((x) => [x.family, x.dst, x.gateway, x.linkIndex, x.onlink]).sort(), [
      [4, "0.0.0.0/0", "10.90.0.9", v.index, undefined],
      [4, "10.91.0.0/24", "10.90.0.2", v.index, undefined],
      [4, "10.93.0.0/24", "192.168.77.1", v.index, true],
      [6, "::/0", "fd00:90::9", v.index, undefined],
    ]);
    assert.deepEqual(h.listRoutes({ protocol: 151, family: 6 }).map((x) => x.metric), [1024]);
    assert.deepEqual(h.listRoutes({ table: 1000 }).map((x) => [x.dst, x.table]), [
      ["10.92.0.0/24", 1000],
    ]);
    assert.ok(h.listRoutes({ table: 0 }).some((x) => x.table === 255), "table 0 lists all");
    const plain = h.listRoutes({ family: 4 }).find((x) => x.dst === "10.94.0.0/24")!;
    assert.deepEqual([plain.protocol, plain.scope, plain.src], [3, "link", "10.90.0.1"]);
    assert.deepEqual(h.listRoutes({ linkIndex: 9999 }), []);

    h.replaceRoute({ ...r, gateway: "10.90.0.4", metric: 20 });
    const [rep] = await ipj(node, ["route", "show", "10.91.0.0/24"]);
    assert.deepEqual([rep.gateway, rep.protocol], ["10.90.0.4", "151"]);
    h.replaceRoute({ family: 4, dst: "10.95.0.0/24", gateway: "10.90.0.5", protocol: 151 });
    assert.equal((await ipj(node, ["route", "show", "10.95.0.0/24"])).length, 1);

    h.deleteRoute({ family: 4, dst: "10.91.0.0/24", protocol: 151 });
    h.deleteRoute({ family: 4, dst: "10.92.0.0/24", table: 1000 });
    h.deleteRoute({ family: 6, dst: "::/0", protocol: 151 });
    assert.throws(() => h.deleteRoute({ family: 4, dst: "10.91.0.0/24" }), NotFoundError);
    assert.throws(() => h.deleteRoute({ family: 6, dst: "::/0" }), NotFoundError);
    assert.deepEqual(
      (await ipj(node, ["route", "show", "table", "all", "proto", "151"])).map((x: Json) => x.dst)
        .sort(),
      ["10.93.0.0/24", "10.95.0.0/24", "default"],
    );
    assert.throws(
      () => h.addRoute({ family: 4, dst: "10.96.0.0/24", gateway: "10.99.0.1" }),
      (e) => e instanceof NetlinkError && e.errno === 101 && /^Cannot add route/.test(e.message),
    );
  } finally {
    h.close();
  }
});

nsTest("vxlan: device info, permanent neighbour, fdb set/append/delete", async (ns) => {
  const node = await ns.add("node");
  const peer = await ns.add("peer");
  const h = nl.open(ns.path(node));
  try {
    const v = h.addVeth({ name: "hgu0", peerName: "hgu1", peerNetns: ns.path(peer) });
    h.setLinkUp(v.index);
    h.addAddr({ linkIndex: v.index, cidr: "192.168.50.1/24" });
    const vx = h.addVxlan({
      name: "hgvx0",
      vni: 4242,
      port: 4789,
      local: "192.168.50.1",
      underlay: v.index,
      learning: false,
      mtu: 1450,
      mac: "02:42:00:00:01:01",
    });
    assert.deepEqual(vx.vxlan, {
      vni: 4242,
      port: 4789,
      local: "192.168.50.1",
      underlay: v.index,
      learning: false,
    });
    const [k] = await ipj(node, ["-d", "link", "show", "hgvx0"]);
    const d = k.linkinfo.info_data;
    assert.deepEqual([d.id, d.port, d.local, d.learning, k.mtu], [
      4242,
      4789,
      "192.168.50.1",
      false,
      1450,
    ]);
    h.setLinkUp(vx.index);
    assert.throws(() => h.addVxlan({ name: "hgvx0", vni: 1, port: 4789 }), LinkExistsError);

    const neigh = {
      linkIndex: vx.index,
      ip: "10.200.1.0",
      mac: "02:42:00:00:02:02",
      permanent: true,
    };
    h.setNeighbor(neigh);
    h.setNeighbor({ ...neigh, mac: "02:42:00:00:02:03" });
    const kn = await ipj(node, ["neigh", "show", "dev", "hgvx0"]);
    assert.deepEqual(kn.map((n: Json) => [n.dst, n.lladdr, n.state]), [
      ["10.200.1.0", "02:42:00:00:02:03", ["PERMANENT"]],
    ]);
    assert.deepEqual(h.listNeighbors({ linkIndex: vx.index }), [{
      ...neigh,
      mac: "02:42:00:00:02:03",
    }]);

    const zero = "00:00:00:00:00:00";
    h.setFdb({ linkIndex: vx.index, mac: "02:42:00:00:02:03", dst: "192.168.50.2" });
    h.setFdb({ linkIndex: vx.index, mac: "02:42:00:00:02:03", dst: "192.168.50.3" });
    h.appendFdb({ linkIndex: vx.index, mac: zero, dst: "192.168.50.2" });
    h.appendFdb({ linkIndex: vx.index, mac: zero, dst: "192.168.50.4" });
    const fdb = async () =>
      (JSON.parse(await sh(["bridge", "-n", node, "-j", "fdb", "show", "dev", "hgvx0"])) as Json[])
        .filter((e) => e.dst).map((e) => `${e.mac} ${e.dst}`).sort();
    assert.deepEqual(await fdb(), [
      "00:00:00:00:00:00 192.168.50.2",
      "00:00:00:00:00:00 192.168.50.4",
      "02:42:00:00:02:03 192.168.50.3",
    ]);
    assert.deepEqual(
      h.listFdb({ linkIndex: vx.index }).filter((e) => e.dst).map((e) => `${e.mac} ${e.dst}`)
        .sort(),
      await fdb(),
    );
    h.deleteFdb({ linkIndex: vx.index, mac: zero, dst: "192.168.50.2" });
    h.deleteFdb({ linkIndex: vx.index, mac: "02:42:00:00:02:03" });
    assert.throws(
      () => h.deleteFdb({ linkIndex: vx.index, mac: "02:42:00:00:02:03" }),
      NotFoundError,
    );
    assert.deepEqual(await fdb(), ["00:00:00:00:00:00 192.168.50.4"]);
    h.deleteNeighbor({ linkIndex: vx.index, ip: "10.200.1.0" });
    assert.throws(() => h.deleteNeighbor({ linkIndex: vx.index, ip: "10.200.1.0" }), NotFoundError);
    assert.deepEqual(await ipj(node, ["neigh", "show", "dev", "hgvx0"]), []);
  } finally {
    h.close();
  }
});

nsTest("sysctl: read and write inside the netns only", async (ns) => {
  const node = await ns.add("node");
  const pod = await ns.add("pod");
  const h = nl.open(ns.path(node));
  const p = nl.open(ns.path(pod));
  try {
    // An interface name that does not exist in the root netns: a wrong switch fails, never writes.
    h.addVeth({ name: "hgsy0", peerName: "hgsypod0", peerNetns: ns.path(pod) });
    const key = "net/ipv6/conf/hgsypod0/accept_dad";
    const read = async () => (await ns.sh(pod, ["cat", `/proc/sys/${key}`])).trim();
    assert.equal(p.getSysctl(key), await read());
    p.setSysctl(key, "0");
    assert.equal(await read(), "0");
    assert.equal(p.getSysctl(key), "0");
    p.setSysctl(key, "1");
    assert.equal(await read(), "1");
    assert.throws(() => h.getSysctl(key), NotFoundError, "not visible from the node netns");
    assert.equal(
      h.getSysctl("net/ipv4/ip_forward"),
      (await ns.sh(node, ["cat", "/proc/sys/net/ipv4/ip_forward"])).trim(),
    );
    assert.throws(() => p.setSysctl("../../etc/x", "1"), NetlinkError);
  } finally {
    h.close();
    p.close();
  }
});

nsTest("typed errors: missing link, exists, no such netns", async (ns) => {
  const node = await ns.add("node");
  const h = nl.open(ns.path(node));
  try {
    const br = h.addBridge({ name: "hgbr0" });
    assert.equal(h.getLink("hgnothere"), undefined);
    assert.equal(h.getLinkByIndex(9999), undefined);
    const cases: [() => unknown, new (...a: never[]) => Error, number][] = [
      [() => h.addBridge({ name: "hgbr0" }), LinkExistsError, 17],
      [() => h.deleteLink(9999), LinkNotFoundError, 19],
      [() => h.setLinkUp(9999), LinkNotFoundError, 19],
      [() => h.setMtu(9999, 1400), LinkNotFoundError, 19],
      [
        () =>
          h.setNeighbor({
            linkIndex: 9999,
            ip: "10.0.0.1",
            mac: "02:00:00:00:00:01",
            permanent: true,
          }),
        LinkNotFoundError,
        19,
      ],
      [() => nl.open(`/run/netns/${ns.prefix}-missing`), NoSuchNetnsError, 2],
      [() => nl.open("/etc/hostname"), NoSuchNetnsError, 22],
      [
        () => h.addVeth({ name: "hgv9", peerName: "hgv9p", peerNetns: "/run/netns/hgnl-nope" }),
        NoSuchNetnsError,
        2,
      ],
      [() => h.deleteRoute({ family: 4, dst: "10.1.0.0/16" }), NotFoundError, 3],
      [() => h.setHairpin(br.index, true), NetlinkError, 95],
    ];
    for (const [fn, cls, errno] of cases) {
      assert.throws(fn, (e) => {
        assert.ok(e instanceof cls, `${e} is not a ${cls.name}`);
        assert.equal((e as NetlinkError).errno, errno, String(e));
        assert.match((e as Error).message, /^Cannot [a-z]+ .+: .+/);
        return true;
      });
    }
    assert.equal((await ipj(node, ["link"])).length, 2, "lo and hgbr0 only");
  } finally {
    h.close();
  }
});

nsTest("route monitor sees an add and a delete made by ip -n, and stops on abort", async (ns) => {
  const node = await ns.add("node");
  await sh(["ip", "-n", node, "link", "add", "hgbr0", "type", "bridge"]);
  await sh(["ip", "-n", node, "link", "set", "hgbr0", "up"]);
  const events: RouteEvent[] = [];
  const ac = new AbortController();
  const done = nl.monitorRoutes({
    netns: ns.path(node),
    signal: ac.signal,
    onEvent: (e) => events.push(e),
  });
  const seen = (what: string, pred: () => boolean) =>
    until(`${what} in ${JSON.stringify(events)}`, pred, { ms: 3000, everyMs: 10 });
  const mine = () =>
    events.filter((e) => e.route.protocol === 151).map((e) => [e.kind, e.route.dst]);
  await sh(["ip", "-n", node, "route", "add", "10.77.0.0/24", "dev", "hgbr0", "proto", "151"]);
  await seen("the add", () => mine().length >= 1);
  await sh(["ip", "-n", node, "route", "del", "10.77.0.0/24", "dev", "hgbr0", "proto", "151"]);
  await seen("the delete", () => mine().length >= 2);
  assert.deepEqual(mine(), [["add", "10.77.0.0/24"], ["delete", "10.77.0.0/24"]]);
  const ev = events.find((e) => e.route.protocol === 151)!;
  assert.equal(ev.route.linkIndex, (await ipj(node, ["link", "show", "hgbr0"]))[0].ifindex);
  const t0 = performance.now();
  ac.abort();
  await done;
  assert.ok(performance.now() - t0 < 200, "stops promptly");
  await assert.rejects(
    nl.monitorRoutes({
      netns: `/run/netns/${ns.prefix}-missing`,
      signal: ac.signal,
      onEvent: () => {},
    }),
    NoSuchNetnsError,
  );
});
