/**
 * The simulated machine room: a switch namespace (one L2 bridge), N node
 * namespaces with an uplink veth each, and a router namespace that joins the
 * switch to an "outside" namespace playing the internet. Nothing is created
 * in the root netns; `NetnsSet.cleanup` removes it all.
 * @module
 */
import { type NetnsSet, sh } from "../helpers/netns.ts";
import { addSwitch, plug as plugCable } from "../helpers/switch.ts";

/** One simulated node. */
export interface SimNode {
  /** Short name ("n1"), also the node name in the datastore. */
  name: string;
  /** Full netns name. */
  netns: string;
  /** Node address on the switch segment, no prefix. */
  ip: string;
  /** Uplink interface name inside the node. */
  uplink: string;
}

/** The built topology. */
export interface Topology {
  nodes: SimNode[];
  switchNs: string;
  routerNs: string;
  outsideNs: string;
  /** Address of the outside host. */
  outsideIp: string;
  /** Node segment, e.g. "172.30.0.0/24". */
  segment: string;
}

/** Options of `buildTopology`. */
export interface TopologyOptions {
  nodes: number;
  /** First three octets of the node segment; nodes get .11, .12, ... */
  segmentPrefix?: string;
  /** MTU of the node uplinks. */
  mtu?: number;
}

async function ipIn(ns: string, args: string[]): Promise<void> {
  await sh(["ip", "-n", ns, ...args]);
}

/** Builds switch, router, outside and `nodes` node namespaces. */
export async function buildTopology(set: NetnsSet, opts: TopologyOptions): Promise<Topology> {
  const seg = opts.segmentPrefix ?? "172.30.0";
  const mtu = opts.mtu ?? 1500;
  const switchNs = await addSwitch(set, { isolate: true });
  const plug = (ns: string, ifname: string, port: string, cidr: string) =>
    plugCable({ sw: switchNs, netns: ns, ifname, port, cidr, mtu });

  const routerNs = await set.add("rt");
  await plug(routerNs, "eth0", "p-rt", `${seg}.1/24`);
  const outsideNs = await set.add("out");
  const outsideIp = "198.51.100.2";
  await ipIn(outsideNs, [
    "link",
    "add",
    "eth0",
    "type",
    "veth",
    "peer",
    "name",
    "eth1",
    "netns",
    routerNs,
  ]);
  await ipIn(outsideNs, ["addr", "add", `${outsideIp}/24`, "dev", "eth0"]);
  await ipIn(outsideNs, ["link", "set", "eth0", "up"]);
  await ipIn(outsideNs, ["route", "add", "default", "via", "198.51.100.1"]);
  await ipIn(routerNs, ["addr", "add", "198.51.100.1/24", "dev", "eth1"]);
  await ipIn(routerNs, ["link", "set", "eth1", "up"]);
  await set.sh(routerNs, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);

  const nodes: SimNode[] = [];
  for (let i = 1; i <= opts.nodes; i++) {
    const name = `n${i}`;
    const netns = await set.add(name);
    const ip = `${seg}.${10 + i}`;
    await plug(netns, "eth0", `p-${name}`, `${ip}/24`);
    await ipIn(netns, ["route", "add", "default", "via", `${seg}.1`]);
    nodes.push({ name, netns, ip, uplink: "eth0" });
  }
  return { nodes, switchNs, routerNs, outsideNs, outsideIp, segment: `${seg}.0/24` };
}
