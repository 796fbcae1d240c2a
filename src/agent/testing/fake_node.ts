/**
 * A fake node for the agent's unit tests: fake kernel (uplink eth0 with a
 * node IP), fake iptables, fake files, fake datastore, and a config parsed
 * from real flags. Shared by reconcile_test, run_test and commands_test.
 * @module
 */
import { FakeDatastore, type NodeInfo } from "../../datastore/mod.ts";
import { FakeClock } from "../../system/fake_clock.ts";
import { FakeFileSystem } from "../../system/fake_fs.ts";
import { FakeIptables } from "../../system/fake_iptables.ts";
import { FakeNetlink } from "../../system/netlink/mod.ts";
import type { NetlinkHandle } from "../../system/netlink/types.ts";
import { type AgentConfig, type CommandDeps, parseConfig } from "../cli/mod.ts";
import { IptablesDriver } from "../firewall/mod.ts";
import { memoryLogger, Metrics } from "../observe/mod.ts";
import { Reconciler } from "../reconcile/mod.ts";

/** Netlink operations that change the kernel. */
export const NETLINK_WRITES = [
  "addRoute",
  "replaceRoute",
  "deleteRoute",
  "addAddr",
  "deleteAddr",
  "addBridge",
  "setLinkUp",
  "setSysctl",
  "addVxlan",
  "deleteLink",
  "setLinkDown",
  "setMac",
  "setMtu",
  "setNeighbor",
  "deleteNeighbor",
  "setFdb",
  "appendFdb",
  "deleteFdb",
];

/** Everything of one fake node. */
export interface FakeNode {
  nl: FakeNetlink;
  handle: NetlinkHandle;
  uplink: number;
  v4: FakeIptables;
  v6: FakeIptables;
  fs: FakeFileSystem;
  ds: FakeDatastore;
  config: AgentConfig;
  metrics: Metrics;
  log: ReturnType<typeof memoryLogger>;
  /** The node's time: moves only when the test advances it. */
  clock: FakeClock;
  reconciler: () => Reconciler;
  /** Number of kernel, rule and file writes so far. */
  writes: () => number;
}

/** Peers on the uplink's /24 (192.168.1.0/24); this node is "a" at .10. */
export function peer(name: string, n: number, extra: Partial<NodeInfo> = {}): NodeInfo {
  return { name, podCidrs: [`10.244.${n}.0/24`], addresses: [`192.168.1.${10 + n}`], ...extra };
}

/** Builds a fake node; `flags` are extra `run` flags. */
export function fakeNode(
  opts: { peers?: NodeInfo[]; flags?: string[]; pool?: string[]; clock?: FakeClock } = {},
): FakeNode {
  const nl = new FakeNetlink();
  nl.addNetns("/run/netns/switch");
  const handle = nl.open();
  const eth0 = handle.addVeth({
    name: "eth0",
    peerName: "p-a",
    peerNetns: "/run/netns/switch",
    mtu: 1450,
  });
  handle.setLinkUp(eth0.index);
  handle.addAddr({ linkIndex: eth0.index, cidr: "192.168.1.10/24" });
  nl.state().sysctls.set("net/ipv4/ip_forward", "0");
  nl.state().sysctls.set("net/ipv6/conf/all/forwarding", "0");
  const v4 = new FakeIptables({ family: 4 });
  const v6 = new FakeIptables({ family: 6 });
  const fs = new FakeFileSystem({ files: { "/opt/hostgate/hostgate": "#!plugin v1\n" } });
  const ds = new FakeDatastore({ nodes: opts.peers ?? [], pool: opts.pool ?? ["10.244.1.0/24"] });
  const config = parseConfig([
    "run",
    "--node-name=a",
    "--datastore=file",
    "--plugin-src=/opt/hostgate/hostgate",
    ...(opts.flags ?? []),
  ], { env: {}, hostname: "a" });
  const metrics = new Metrics();
  const log = memoryLogger();
  const clock = opts.clock ?? new FakeClock();
  const firewall = new IptablesDriver({ v4, v6 });
  const reconciler = () =>
    new Reconciler({
      config,
      handle,
      datastore: ds,
      firewall,
      fs,
      metrics,
      log,
      clock,
      onDatastoreChange: () => {},
    });
  const writes = () =>
    nl.calls.filter((c) => NETLINK_WRITES.includes(c.op)).length + v4.restoreCount +
    v6.restoreCount + fs.calls.filter((c) =>
      ["writeAtomic", "remove", "mkdirp"].includes(c.op)
    ).length;
  return {
    nl,
    handle,
    uplink: eth0.index,
    v4,
    v6,
    fs,
    ds,
    config,
    metrics,
    log,
    clock,
    reconciler,
    writes,
  };
}

/** hostgate's routes as "dst via gw", sorted. */
export function routesOf(handle: NetlinkHandle): string[] {
  return [
    ...handle.listRoutes({ family: 4, protocol: 151 }),
    ...handle.listRoutes({ family: 6, protocol: 151 }),
  ]
    .map((r) => `${r.dst} via ${r.gateway}`).sort();
}

/**
 * CommandDeps for the one-shot subcommands on fake node `n`: `argv` is the
 * subcommand and its flags (`--node-name=a` is added), the plugin source is
 * the fake's, and what the command prints is collected in `out`.
 */
export function commandDeps(n: FakeNode, argv: string[]): CommandDeps & { out: string[] } {
  const [cmd = "", ...flags] = argv;
  const out: string[] = [];
  return {
    config: {
      ...parseConfig([cmd, "--node-name=a", ...flags], { env: {}, hostname: "a" }),
      pluginSrc: "/opt/hostgate/hostgate",
    },
    netlink: n.nl,
    fs: n.fs,
    // Retries and polls run through their sleeps at once, seeing the time pass.
    clock: new FakeClock({ autoAdvance: true }),
    log: n.log,
    openDatastore: () => Promise.resolve(n.ds),
    firewall: () => Promise.resolve(new IptablesDriver({ v4: n.v4, v6: n.v6 })),
    print: (s) => out.push(s),
    out,
  };
}
