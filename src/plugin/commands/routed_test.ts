import assert from "node:assert/strict";
import { HOSTGATE_ROUTE_PROTOCOL } from "../../system/netlink/mod.ts";
import { linkLocalOf, renderGuardDefinition } from "../guard/mod.ts";
import { guardElements } from "../guard/testing.ts";
import { hostVethName } from "../names.ts";
import { harness, invoke, netconf } from "../testing.ts";

const POD = "/run/netns/pod1";
const POD2 = "/run/netns/pod2";
const ROUTED = netconf({ mode: "routed" });
const GUARDED = { table: "hostgate-guard", set: "guarded" } as const;
const EMPTY_FIVE = { guarded: [], macs: [], addr4: [], addr6: [], nd6: [] };
const EMPTY_THREE = { guarded: [], macs: [], addr4: [] };

Deno.test("routed ADD: no bridge, /32 and /128 with link-local gateways, host routes tagged 151", async () => {
  const h = harness({ ipam: { v4: "10.22.0", v6: "fd00:22::" }, pods: [POD, POD2] });
  const r = await invoke(h, "ADD", { conf: ROUTED });
  assert.equal(r.exitCode, 0, r.stdout);
  const hostName = hostVethName("ctr1", "eth0");
  const node = h.netlink.snapshot("");
  assert.ok(!node.links.some((l) => l.kind === "bridge"), "routed mode makes no bridge");
  const hv = node.links.find((l) => l.name === hostName)!;
  assert.equal(hv.master, undefined);
  assert.equal(hv.up, true);
  assert.equal(node.addrs.filter((a) => a.linkIndex === hv.index).length, 0);
  const own = node.routes.filter((rt) => rt.protocol === HOSTGATE_ROUTE_PROTOCOL);
  assert.deepEqual(own.map((rt) => [rt.dst, rt.linkIndex, rt.gateway]).sort(), [
    ["10.22.0.2/32", hv.index, undefined],
    ["fd00:22::2/128", hv.index, undefined],
  ]);
  const pod = h.netlink.snapshot(POD);
  const eth0 = pod.links.find((l) => l.name === "eth0")!;
  assert.deepEqual(pod.addrs.filter((a) => a.linkIndex === eth0.index).map((a) => a.cidr).sort(), [
    "10.22.0.2/32",
    "fd00:22::2/128",
  ]);
  assert.ok(
    pod.routes.some((rt) => rt.dst === "0.0.0.0/0" && rt.gateway === "169.254.1.1" && rt.onlink),
  );
  assert.ok(pod.routes.some((rt) => rt.dst === "::/0" && rt.gateway === "fe80::1"));
  const gwNeigh = pod.neighbors.filter((n) => n.linkIndex === eth0.index);
  assert.deepEqual(gwNeigh.map((n) => [n.ip, n.mac, n.permanent]).sort(), [
    ["169.254.1.1", hv.mac, true],
    ["fe80::1", hv.mac, true],
  ]);
  const hostNeigh = node.neighbors.filter((n) => n.linkIndex === hv.index);
  assert.deepEqual(hostNeigh.map((n) => [n.ip, n.mac]).sort(), [
    ["10.22.0.2", eth0.mac],
    ["fd00:22::2", eth0.mac],
  ]);
  assert.equal(node.sysctls["net/ipv4/ip_forward"], "1");
  assert.equal(node.sysctls["net/ipv6/conf/all/forwarding"], "1");
  assert.deepEqual(r.json!["interfaces"], [
    { name: hostName, mac: hv.mac, mtu: hv.mtu },
    { name: "eth0", mac: eth0.mac, mtu: eth0.mtu, sandbox: POD },
  ]);
  assert.deepEqual(r.json!["ips"], [
    { address: "10.22.0.2/32", gateway: "169.254.1.1", interface: 1 },
    { address: "fd00:22::2/128", gateway: "fe80::1", interface: 1 },
  ]);
  // The first pod defines the tables (one nft); its guard is elements: this pod's MAC and
  // addresses, keyed by its host veth, in the inet and arp tables.
  assert.deepEqual(h.guardNft.payloads, [renderGuardDefinition("routed")]);
  const ll = linkLocalOf(eth0.mac);
  assert.deepEqual(guardElements(h.guardSets, "inet"), {
    guarded: [hostName],
    macs: [`${hostName} . ${eth0.mac}`],
    addr4: [`${hostName} . 10.22.0.2`],
    addr6: [`${hostName} . fd00:22::2`],
    nd6: [`${hostName} . ${ll}`, `${hostName} . fd00:22::2`].sort(),
  });
  assert.deepEqual(guardElements(h.guardSets, "arp"), {
    guarded: [hostName],
    macs: [`${hostName} . ${eth0.mac}`],
    addr4: [`${hostName} . 10.22.0.2`],
  });
  assert.deepEqual(guardElements(h.guardSets, "bridge"), {});
  assert.deepEqual(h.guardSets.elements({ ...GUARDED, family: "inet" })!.map((e) => e.comment), [
    "hostgate: ctr1 eth0",
  ]);
  // A second pod is one element batch, no nft.
  const h2 = await invoke(h, "ADD", { conf: ROUTED, containerId: "ctr2", netns: POD2 });
  assert.equal(h2.exitCode, 0, h2.stdout);
  assert.equal(h.guardNft.payloads.length, 1);
  assert.equal(h.guardSets.elements({ ...GUARDED, family: "arp" })!.length, 2);
});

Deno.test("routed CHECK passes, then fails on a missing host route and on a missing guard", async () => {
  const h = harness();
  const add = await invoke(h, "ADD", { conf: ROUTED });
  assert.equal(add.exitCode, 0, add.stdout);
  const conf = { ...ROUTED, prevResult: add.json };
  const ok = await invoke(h, "CHECK", { conf });
  assert.equal(ok.exitCode, 0, ok.stdout);

  const hostName = hostVethName("ctr1", "eth0");
  const ref = { family: "arp", table: "hostgate-guard", set: "addr4" } as const;
  await h.guardSets.apply([{ op: "delete", ...ref, key: h.guardSets.elements(ref)![0]!.key }]);
  const noGuard = await invoke(h, "CHECK", { conf });
  assert.equal(noGuard.json!["code"], 103);
  assert.equal(
    noGuard.json!["msg"],
    `Cannot confirm attachment: anti-spoofing of ${hostName}: ${hostName} . 10.22.0.2 ` +
      "is missing from " +
      "set arp hostgate-guard addr4",
  );
  h.guardSets.deleteTable("inet", "hostgate-guard");
  const noTable = await invoke(h, "CHECK", { conf });
  assert.match(
    String(noTable.json!["msg"]),
    /anti-spoofing set inet hostgate-guard macs is missing/,
  );

  const host = h.netlink.open();
  const route = host.listRoutes({ family: 4 }).find((r) => r.dst === "10.22.0.2/32")!;
  host.deleteRoute(route);
  const noRoute = await invoke(h, "CHECK", { conf });
  assert.equal(noRoute.json!["code"], 103);
  assert.match(String(noRoute.json!["msg"]), /host route 10.22.0.2\/32 .* is missing/);
});

Deno.test("routed DEL removes veth, routes, guard and reservation; repeated DEL succeeds", async () => {
  const h = harness();
  assert.equal((await invoke(h, "ADD", { conf: ROUTED })).exitCode, 0);
  for (const round of [1, 2]) {
    const del = await invoke(h, "DEL", { conf: ROUTED });
    assert.equal(del.exitCode, 0, `DEL ${round}: ${del.stdout}`);
  }
  const node = h.netlink.snapshot("");
  assert.ok(!node.links.some((l) => l.name.startsWith("hg")));
  assert.ok(!node.routes.some((r) => r.protocol === HOSTGATE_ROUTE_PROTOCOL));
  assert.deepEqual(guardElements(h.guardSets, "inet"), EMPTY_FIVE);
  assert.deepEqual(guardElements(h.guardSets, "arp"), EMPTY_THREE);
  assert.equal(h.ipam.held.size, 0);
});

Deno.test("routed ADD: a failed nft rolls back veth, routes, guard and address", async () => {
  const h = harness();
  h.guardNft.failNext();
  const r = await invoke(h, "ADD", { conf: ROUTED });
  assert.equal(r.exitCode, 1);
  assert.match(String(r.json!["msg"]), /Cannot install anti-spoofing/);
  assert.equal(h.guardSets.hasTableSync("inet", "hostgate-guard"), false);
  const node = h.netlink.snapshot("");
  assert.ok(!node.links.some((l) => l.name.startsWith("hg")));
  assert.ok(!node.routes.some((rt) => rt.protocol === HOSTGATE_ROUTE_PROTOCOL));
  assert.equal(h.ipam.held.size, 0);
});

Deno.test("ADD with antiSpoofing false spawns no nft; GC removes stale guards and routed veths", async () => {
  const h = harness({ pods: ["/run/netns/pod1", "/run/netns/pod2"] });
  const off = await invoke(h, "ADD", { conf: { ...ROUTED, antiSpoofing: false } });
  assert.equal(off.exitCode, 0, off.stdout);
  assert.equal(h.guardNft.payloads.length, 0);
  const on = await invoke(h, "ADD", {
    conf: ROUTED,
    containerId: "ctr2",
    netns: "/run/netns/pod2",
  });
  assert.equal(on.exitCode, 0, on.stdout);
  const gc = await invoke(h, "GC", {
    conf: { ...ROUTED, "cni.dev/valid-attachments": [{ containerID: "ctr1", ifname: "eth0" }] },
  });
  assert.equal(gc.exitCode, 0, gc.stdout);
  const names = h.netlink.snapshot("").links.map((l) => l.name);
  assert.ok(names.includes(hostVethName("ctr1", "eth0")));
  assert.ok(!names.includes(hostVethName("ctr2", "eth0")));
  assert.deepEqual(guardElements(h.guardSets, "inet"), EMPTY_FIVE);
  assert.deepEqual(guardElements(h.guardSets, "arp"), EMPTY_THREE);
});

Deno.test("config: mode must be routed or bridge, antiSpoofing a boolean (code 7 naming the key)", async () => {
  const h = harness();
  const bad = await invoke(h, "ADD", { conf: netconf({ mode: "ptp" }) });
  assert.equal(bad.json!["code"], 7);
  assert.match(String(bad.json!["msg"]), /mode/);
  const bad2 = await invoke(h, "ADD", { conf: netconf({ antiSpoofing: "yes" }) });
  assert.equal(bad2.json!["code"], 7);
  assert.match(String(bad2.json!["msg"]), /antiSpoofing/);
});

Deno.test("DEL takes the guard's keys from prevResult (one batch, no listing); without it, sweeps", async () => {
  for (const withPrev of [true, false]) {
    const h = harness();
    const add = await invoke(h, "ADD", { conf: ROUTED });
    assert.equal(add.exitCode, 0, add.stdout);
    const calls = h.guardSets.calls.length;
    const conf = withPrev ? { ...ROUTED, prevResult: add.json } : ROUTED;
    const del = await invoke(h, "DEL", { conf });
    assert.equal(del.exitCode, 0, del.stdout);
    const methods = h.guardSets.calls.slice(calls).map((c) => c.method);
    if (withPrev) assert.deepEqual(methods, ["apply"]);
    else assert.ok(methods.includes("list") && methods.at(-1) === "apply", methods.join());
    assert.deepEqual(guardElements(h.guardSets, "inet"), EMPTY_FIVE, `prevResult ${withPrev}`);
    assert.deepEqual(guardElements(h.guardSets, "arp"), EMPTY_THREE, `prevResult ${withPrev}`);
  }
});

Deno.test("bridge mode guards in the bridge table only; DEL with no table anywhere creates none", async () => {
  const h = harness();
  const add = await invoke(h, "ADD", { conf: netconf({}) });
  assert.equal(add.exitCode, 0, add.stdout);
  const hostName = hostVethName("ctr1", "eth0");
  assert.deepEqual(guardElements(h.guardSets, "bridge").guarded, [hostName]);
  assert.equal(h.guardSets.hasTableSync("inet", "hostgate-guard"), false);
  h.guardSets.deleteTable("bridge", "hostgate-guard");
  const del = await invoke(h, "DEL", { conf: netconf({}) });
  assert.equal(del.exitCode, 0, del.stdout);
  assert.equal(h.guardSets.hasTableSync("bridge", "hostgate-guard"), false);
  assert.equal(h.guardNft.payloads.length, 1, "only ADD's definition");
});
