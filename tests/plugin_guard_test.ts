/**
 * Root-only: anti-spoofing, in routed and in bridge mode, dual-stack. Pod c
 * (the attacker) puts forged frames on its own wire with raw sockets
 * (tests/helpers/spoof.py): UDP with its neighbour b's source address, UDP
 * with a forged MAC, a gratuitous ARP and an unsolicited override NA for b's
 * addresses, and a router advertisement. Pod a listens. The checks: the
 * controls (c with its own MAC and addresses) arrive, no forged datagram does,
 * no neighbour table (a's, the node's) learned c's MAC for b's addresses, a
 * took no route from the RA, and b's own traffic keeps flowing. Needs
 * `deno task bundle` first.
 * @module
 */
import assert from "node:assert/strict";
import { linkLocalOf } from "../src/plugin/guard/render.ts";
import { ipJson, netnsName, type PluginNode, withPluginNode } from "./helpers/cni.ts";
import { isRoot, run } from "./helpers/netns.ts";

const ignore = !isRoot();
const SPOOF = new URL("./helpers/spoof.py", import.meta.url).pathname;
const PORT = "5555";
const FORGED_MAC = "02:de:ad:be:ef:01";

interface Wired {
  ns: string;
  v4: string;
  v6: string;
  mac: string;
  hostMac: string;
}

async function addPod(n: PluginNode, name: string, mode: string): Promise<Wired> {
  const netns = await n.pod(name);
  const conf = n.conf({
    extra: { mode },
    ipam: {
      subnet: undefined,
      ranges: [[{ subnet: "10.77.0.0/24" }], [{ subnet: "fd77::/64" }]],
    },
  });
  const r = await n.eth0("ADD", { containerId: `c-${name}`, netns, conf });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const ifaces = r.json!["interfaces"] as { name: string; mac: string }[];
  const ips = (r.json!["ips"] as { address: string }[]).map((i) => i.address.split("/")[0]!);
  return {
    ns: netnsName(netns),
    v4: ips.find((i) => !i.includes(":"))!,
    v6: ips.find((i) => i.includes(":"))!,
    mac: ifaces.at(-1)!.mac,
    hostMac: ifaces.at(-2)!.mac,
  };
}

async function spoof(pod: Wired, args: string[]): Promise<void> {
  const r = await run(["ip", "netns", "exec", pod.ns, "python3", SPOOF, ...args]);
  assert.equal(r.code, 0, `spoof.py ${args.join(" ")}: ${r.stderr}`);
}

/** Runs a listener in `pod` for `seconds` while `during` runs; the datagrams' "SRC PAYLOAD" lines. */
async function listenWhile(pod: Wired, seconds: number, during: () => Promise<void>) {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", pod.ns, "python3", SPOOF, "listen", "::", PORT, String(seconds)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = child.output();
  await new Promise((r) => setTimeout(r, 400));
  await during();
  const done = await out;
  return new TextDecoder().decode(done.stdout).split("\n").slice(1).filter((l) => l)
    .map((l) => l.replace(/^::ffff:/, ""));
}

async function ping(from: string, ip: string): Promise<boolean> {
  return (await run(["ip", "netns", "exec", from, "ping", "-c1", "-W2", ip])).code === 0;
}

async function neighbours(ns: string): Promise<{ dst: string; lladdr?: string }[]> {
  return await ipJson(ns, ["neigh", "show"]) as { dst: string; lladdr?: string }[];
}

async function scenario(n: PluginNode, mode: "routed" | "bridge"): Promise<void> {
  // A node IP to talk to pods from (a real node has one on its uplink; routed mode puts
  // no address on the host veths, bridge mode has the gateway on the bridge).
  for (const cidr of ["192.0.2.1/32", "2001:db8::1/128"]) {
    await n.ns.sh(n.node, ["ip", "addr", "add", cidr, "dev", "lo"]);
  }
  const a = await addPod(n, "a", mode);
  const b = await addPod(n, "b", mode);
  const c = await addPod(n, "c", mode);
  // Where c's frames to a go: the host veth (routed) or a itself (bridge).
  const toA = mode === "routed" ? c.hostMac : a.mac;
  assert.ok(await ping(b.ns, a.v4), "b reaches a (v4) before the attack");
  assert.ok(await ping(b.ns, a.v6), "b reaches a (v6) before the attack");
  assert.ok(await ping(a.ns, b.v4) && await ping(a.ns, b.v6), "a knows b's MAC before the attack");
  // Past the neighbour lock time, so a forged update would be taken.
  await new Promise((r) => setTimeout(r, 1200));

  const got = await listenWhile(a, 2.5, async () => {
    await spoof(c, ["udp4", "eth0", c.mac, toA, c.v4, a.v4, PORT, "control-4"]);
    await spoof(c, ["udp6", "eth0", c.mac, toA, c.v6, a.v6, PORT, "control-6"]);
    await spoof(c, ["udp4", "eth0", c.mac, toA, b.v4, a.v4, PORT, "spoof-ip-4"]);
    await spoof(c, ["udp6", "eth0", c.mac, toA, b.v6, a.v6, PORT, "spoof-ip-6"]);
    await spoof(c, ["udp4", "eth0", FORGED_MAC, toA, c.v4, a.v4, PORT, "spoof-mac-4"]);
    await spoof(c, ["udp6", "eth0", FORGED_MAC, toA, c.v6, a.v6, PORT, "spoof-mac-6"]);
    await spoof(c, ["garp", "eth0", c.mac, b.v4]);
    await spoof(c, ["na", "eth0", c.mac, linkLocalOf(c.mac), b.v6]);
    await spoof(c, ["ra", "eth0", c.mac, linkLocalOf(c.mac)]);
  });
  assert.ok(got.includes(`${c.v4} control-4`), `control v4 not delivered: ${got.join("; ")}`);
  assert.ok(got.includes(`${c.v6} control-6`), `control v6 not delivered: ${got.join("; ")}`);
  assert.deepEqual(got.filter((l) => l.includes("spoof")), [], "a forged datagram arrived");

  for (const ns of [a.ns, n.node]) {
    const poisoned = (await neighbours(ns)).filter((e) =>
      (e.dst === b.v4 || e.dst === b.v6) && e.lladdr === c.mac
    );
    assert.deepEqual(poisoned, [], `${ns} learned c's MAC for b`);
  }
  const raRoutes = await ipJson(a.ns, ["-6", "route", "show", "proto", "ra"]);
  assert.deepEqual(raRoutes, [], "a took a route from c's router advertisement");

  // b's own traffic still flows both ways, v4 and v6, and the node reaches it.
  const gotB = await listenWhile(a, 1.5, async () => {
    await spoof(b, [
      "udp4",
      "eth0",
      b.mac,
      mode === "routed" ? b.hostMac : a.mac,
      b.v4,
      a.v4,
      PORT,
      "b-4",
    ]);
    await spoof(b, [
      "udp6",
      "eth0",
      b.mac,
      mode === "routed" ? b.hostMac : a.mac,
      b.v6,
      a.v6,
      PORT,
      "b-6",
    ]);
  });
  assert.deepEqual(gotB.sort(), [`${b.v4} b-4`, `${b.v6} b-6`].sort());
  for (const ip of [b.v4, b.v6]) {
    assert.ok(await ping(a.ns, ip), `a -> b ${ip} after the attack`);
    assert.ok(await ping(n.node, ip), `node -> b ${ip} after the attack`);
  }
}

for (const mode of ["routed", "bridge"] as const) {
  Deno.test({
    name:
      `anti-spoofing (${mode} mode): forged IP, MAC, ARP, NA and RA neither delivered nor learned`,
    ignore,
    fn: () => withPluginNode(`hgsp${mode[0]}`, (n) => scenario(n, mode)),
  });
}
