/**
 * An L2 switch for simulated nodes: a namespace holding bridge br0, and veth
 * cables from other namespaces plugged into it. Shared by the agent test,
 * the VXLAN lab, the cluster topology and the agent benchmark, which all
 * wire nodes the same way; nothing here touches the root netns.
 * @module
 */
import { type NetnsSet, sh } from "./netns.ts";

/**
 * Adds netns `<prefix>-<name>` with bridge br0 up and returns its name.
 * `isolate` turns bridge-nf-call-iptables off there, so that bridged frames
 * do not cross the switch's own iptables.
 */
export async function addSwitch(
  set: NetnsSet,
  opts: { name?: string; isolate?: boolean } = {},
): Promise<string> {
  const sw = await set.add(opts.name ?? "sw");
  await sh(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"]);
  await sh(["ip", "-n", sw, "link", "set", "br0", "up"]);
  if (opts.isolate) {
    await set.sh(sw, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"]).catch(() => {});
  }
  return sw;
}

/** One cable: `ifname` in `netns` with `cidr`, its peer `port` on switch `sw`'s br0. */
export interface Cable {
  sw: string;
  netns: string;
  ifname: string;
  port: string;
  /** Address with prefix, e.g. "192.168.100.1/24". */
  cidr: string;
  /** MTU of both ends; the kernel default when omitted. */
  mtu?: number;
}

/** Creates the veth pair of `c`, enslaves the port to br0, addresses and raises both ends. */
export async function plug(c: Cable): Promise<void> {
  const mtu = c.mtu === undefined ? [] : ["mtu", String(c.mtu)];
  await sh([
    "ip",
    "-n",
    c.netns,
    "link",
    "add",
    c.ifname,
    ...mtu,
    "type",
    "veth",
    "peer",
    "name",
    c.port,
    "netns",
    c.sw,
  ]);
  await sh(["ip", "-n", c.sw, "link", "set", c.port, "master", "br0", ...mtu, "up"]);
  await sh(["ip", "-n", c.netns, "addr", "add", c.cidr, "dev", c.ifname]);
  await sh(["ip", "-n", c.netns, "link", "set", c.ifname, "up"]);
}
