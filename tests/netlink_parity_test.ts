/**
 * Root-only: one scenario run against the real kernel (FfiNetlink in hgnl-*
 * namespaces) and against FakeNetlink must give the same outcomes — the same
 * error class and errno for every refused call, and the same final links,
 * addresses, routes, neighbours, FDB entries and sysctls. This is what keeps
 * the fake honest for the unit tests built on it.
 */
import assert from "node:assert/strict";
import { isRoot, withNetns } from "./helpers/netns.ts";
import {
  FakeNetlink,
  FfiNetlink,
  type Netlink,
  type NetlinkError,
  type NetlinkHandle,
} from "../src/system/netlink/mod.ts";

type Outcome = [string, string, number?];

/** Kernel-only objects the fake does not model: lo, link-local, multicast. */
function modelled(s: string): boolean {
  return !/^(fe80|ff|127\.|::1\/)/.test(s);
}

function picture(h: NetlinkHandle) {
  const links = h.listLinks().filter((l) => l.name !== "lo");
  const name = (i?: number) =>
    links.find((l) => l.index === i)?.name ?? (i === undefined ? "" : "?");
  return {
    links: links.map((
      l,
    ) => [
      l.name,
      l.kind,
      l.mtu,
      l.up,
      name(l.master),
      l.hairpin ?? null,
      l.promisc,
      l.vxlan ?? null,
    ]).sort(),
    addrs: h.listAddrs().filter((a) => modelled(a.cidr)).map((a) =>
      `${name(a.linkIndex)} ${a.cidr}`
    )
      .sort(),
    routes: h.listRoutes({ table: 0 }).filter((r) => r.table !== 255 && modelled(r.dst)).map((r) =>
      JSON.stringify([
        r.dst,
        r.gateway,
        name(r.linkIndex),
        r.protocol,
        r.table,
        r.scope,
        r.src,
        r.metric,
        r.onlink,
      ])
    ).sort(),
    neighbors: h.listNeighbors().filter((n) => n.permanent).map((n) =>
      `${name(n.linkIndex)} ${n.ip} ${n.mac}`
    ),
    fdb: h.listFdb().filter((e) => e.dst).map((e) => `${name(e.linkIndex)} ${e.mac} ${e.dst}`)
      .sort(),
  };
}

function scenario(nl: Netlink, node: string, pod: string) {
  const outcomes: Outcome[] = [];
  const t = <T>(label: string, fn: () => T): T | undefined => {
    try {
      const v = fn();
      outcomes.push([label, "ok"]);
      return v;
    } catch (e) {
      outcomes.push([label, (e as Error).name, (e as NetlinkError).errno]);
      return undefined;
    }
  };
  t("open missing netns", () => nl.open(`${node}-missing`));
  const h = nl.open(node);
  const p = nl.open(pod);
  try {
    const br = h.addBridge({ name: "hgbr0", mtu: 1400 });
    const down = h.addBridge({ name: "hgbr1" });
    t("bridge again", () => h.addBridge({ name: "hgbr0" }));
    const v = h.addVeth({ name: "hgv0", peerName: "hgeth0", peerNetns: pod, mtu: 1400 });
    t(
      "veth peer name taken",
      () => h.addVeth({ name: "hgv1", peerName: "hgeth0", peerNetns: pod }),
    );
    t("veth host name taken", () => h.addVeth({ name: "hgv0", peerName: "hgx", peerNetns: pod }));
    t(
      "veth missing netns",
      () => h.addVeth({ name: "hgv2", peerName: "x", peerNetns: `${pod}-no` }),
    );
    t("hairpin before master", () => h.setHairpin(v.index, true));
    t("master", () => h.setMaster(v.index, br.index));
    t("master missing", () => h.setMaster(v.index, 9999));
    t("hairpin", () => h.setHairpin(v.index, true));
    t("mtu too small", () => h.setMtu(v.index, 10));
    t("mtu too big", () => h.setMtu(v.index, 70000));
    t("mtu missing link", () => h.setMtu(9999, 1500));
    t("promisc", () => h.setPromisc(down.index, true));
    h.setLinkUp(br.index);
    h.setLinkUp(v.index);
    t("addr v4", () => h.addAddr({ linkIndex: br.index, cidr: "10.1.0.1/24" }));
    t("addr v4 again", () => h.addAddr({ linkIndex: br.index, cidr: "10.1.0.1/24" }));
    t("addr v4 other prefix", () => h.addAddr({ linkIndex: br.index, cidr: "10.1.0.1/25" }));
    t("addr v6", () => h.addAddr({ linkIndex: br.index, cidr: "fd00:1::1/64", noDad: true }));
    t("addr v6 other prefix", () => h.addAddr({ linkIndex: br.index, cidr: "fd00:1::1/80" }));
    t("addr missing link", () => h.addAddr({ linkIndex: 9999, cidr: "10.9.0.1/24" }));
    t("addr on down link", () => h.addAddr({ linkIndex: down.index, cidr: "10.3.0.1/24" }));
    t("del addr missing", () => h.deleteAddr({ linkIndex: br.index, cidr: "10.1.0.9/24" }));
    t("del addr /25", () => h.deleteAddr({ linkIndex: br.index, cidr: "10.1.0.1/25" }));
    const r = { family: 4 as const, dst: "10.2.0.0/24", gateway: "10.1.0.2", protocol: 151 };
    t("route", () => h.addRoute(r));
    t("route again", () => h.addRoute(r));
    t("route other metric", () => h.addRoute({ ...r, metric: 7 }));
    t("route replace", () => h.replaceRoute({ ...r, gateway: "10.1.0.3" }));
    t("route table 1000", () => h.addRoute({ ...r, table: 1000 }));
    t(
      "route unreachable v4",
      () => h.addRoute({ family: 4, dst: "10.4.0.0/24", gateway: "10.99.0.1" }),
    );
    t(
      "route unreachable v6",
      () => h.addRoute({ family: 6, dst: "fd00:4::/64", gateway: "fd00:99::1" }),
    );
    t(
      "route v6",
      () => h.addRoute({ family: 6, dst: "fd00:5::/64", gateway: "fd00:1::2", protocol: 151 }),
    );
    t(
      "route v6 ll gw",
      () => h.addRoute({ family: 6, dst: "fd00:6::/64", gateway: "fe80::1", linkIndex: br.index }),
    );
    t(
      "route onlink",
      () =>
        h.addRoute({
          family: 4,
          dst: "10.5.0.0/24",
          gateway: "192.168.9.1",
          linkIndex: br.index,
          onlink: true,
        }),
    );
    t(
      "route down link",
      () => h.addRoute({ family: 4, dst: "10.6.0.0/24", linkIndex: down.index }),
    );
    t("route host bits", () => h.addRoute({ family: 4, dst: "10.7.0.1/24", linkIndex: br.index }));
    t(
      "route bad src",
      () => h.addRoute({ family: 4, dst: "10.8.0.0/24", linkIndex: br.index, src: "10.77.0.1" }),
    );
    t(
      "route src",
      () => h.addRoute({ family: 4, dst: "10.8.0.0/24", linkIndex: br.index, src: "10.1.0.1" }),
    );
    t("route del missing", () => h.deleteRoute({ family: 4, dst: "10.9.0.0/24" }));
    t(
      "route del wrong proto",
      () => h.deleteRoute({ family: 4, dst: "10.2.0.0/24", protocol: 99, metric: 7 }),
    );
    t("route del metric 7", () => h.deleteRoute({ family: 4, dst: "10.2.0.0/24", metric: 7 }));
    const eth0 = p.getLink("hgeth0")!;
    p.setLinkUp(eth0.index);
    t("pod addr", () => p.addAddr({ linkIndex: eth0.index, cidr: "10.1.0.5/24" }));
    t("pod default", () => p.addRoute({ family: 4, dst: "0.0.0.0/0", gateway: "10.1.0.1" }));
    const n = { linkIndex: br.index, ip: "10.1.0.7", mac: "02:42:00:00:00:07", permanent: true };
    t("neigh", () => h.setNeighbor(n));
    t("neigh replace", () => h.setNeighbor({ ...n, mac: "02:42:00:00:00:08" }));
    t("neigh del", () => h.deleteNeighbor(n));
    t("neigh del again", () => h.deleteNeighbor(n));
    t("neigh keep", () => h.setNeighbor({ ...n, ip: "10.1.0.8" }));
    const vx = t(
      "vxlan",
      () =>
        h.addVxlan({
          name: "hgvx0",
          vni: 7,
          port: 4789,
          local: "10.1.0.1",
          underlay: br.index,
          learning: false,
        }),
    );
    t("vxlan same vni", () => h.addVxlan({ name: "hgvx1", vni: 7, port: 4789 }));
    t(
      "vxlan missing underlay",
      () => h.addVxlan({ name: "hgvx2", vni: 8, port: 4789, underlay: 9999 }),
    );
    const zero = "00:00:00:00:00:00";
    if (vx) {
      t("fdb append", () => h.appendFdb({ linkIndex: vx.index, mac: zero, dst: "10.1.0.20" }));
      t("fdb append same", () => h.appendFdb({ linkIndex: vx.index, mac: zero, dst: "10.1.0.20" }));
      t("fdb append 2", () => h.appendFdb({ linkIndex: vx.index, mac: zero, dst: "10.1.0.21" }));
      t(
        "fdb set",
        () => h.setFdb({ linkIndex: vx.index, mac: "02:42:00:00:00:09", dst: "10.1.0.22" }),
      );
      t(
        "fdb set again",
        () => h.setFdb({ linkIndex: vx.index, mac: "02:42:00:00:00:09", dst: "10.1.0.23" }),
      );
      t("fdb del", () => h.deleteFdb({ linkIndex: vx.index, mac: zero, dst: "10.1.0.20" }));
      t("fdb del missing", () => h.deleteFdb({ linkIndex: vx.index, mac: "02:42:00:00:00:0a" }));
    }
    const key = "net/ipv6/conf/hgeth0/accept_dad";
    const sysctls = [p.getSysctl(key)];
    t("sysctl set", () => p.setSysctl(key, "0"));
    sysctls.push(p.getSysctl(key));
    t("sysctl missing", () => p.getSysctl("net/ipv6/conf/hgnope/accept_dad"));
    const before = { node: picture(h), pod: picture(p) };
    t("link down", () => h.setLinkDown(br.index));
    const whileDown = picture(h);
    t("link up", () => h.setLinkUp(br.index));
    t("delete veth", () => h.deleteLink(v.index));
    t("delete again", () => h.deleteLink(v.index));
    return { outcomes, sysctls, before, whileDown, after: { node: picture(h), pod: picture(p) } };
  } finally {
    h.close();
    p.close();
  }
}

Deno.test({
  name: "the fake gives the kernel's outcomes for one full scenario",
  ignore: !isRoot(),
  fn: async () => {
    const real = await withNetns("hgnl", async (ns) => {
      const node = await ns.add("node");
      const pod = await ns.add("pod");
      return scenario(new FfiNetlink(), ns.path(node), ns.path(pod));
    });
    const fake = new FakeNetlink();
    fake.addNetns("/run/netns/node");
    fake.addNetns("/run/netns/pod");
    const got = scenario(fake, "/run/netns/node", "/run/netns/pod");
    // Equal is not enough: the kernel side must have run the whole scenario
    // (the VXLAN step's FDB checks included) and refused as well as accepted,
    // or both sides could agree on having checked nothing.
    const labels = real.outcomes.map(([label]) => label);
    assert.ok(labels.includes("fdb del missing"), "the scenario stopped before its end");
    const oks = real.outcomes.filter(([, r]) => r === "ok").length;
    assert.ok(oks >= 20 && real.outcomes.length - oks >= 20, JSON.stringify(real.outcomes));
    assert.ok(real.before.node.routes.length > 0 && real.before.node.fdb.length > 0);
    assert.deepEqual(got.outcomes, real.outcomes);
    assert.deepEqual(got.sysctls, real.sysctls);
    assert.deepEqual(got.before, real.before);
    assert.deepEqual(got.whileDown, real.whileDown);
    assert.deepEqual(got.after, real.after);
  },
});
