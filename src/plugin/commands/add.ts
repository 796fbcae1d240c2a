/**
 * ADD: wire one pod into the node's bridge. A chain of idempotent ensure*
 * steps; once IPAM has handed out an address every later failure rolls back
 * (veth removed, address released), so a failed ADD leaves nothing behind.
 * @module
 */
import { type CniResult, hasDns, requestedIps, type ResultInterface } from "../../cni/mod.ts";
import { CniCode, CniError } from "../../errors.ts";
import type { IpamResult } from "../../ipam/types.ts";
import { NoSuchNetnsError, NotFoundError } from "../../system/netlink/errors.ts";
import type { Link, NetlinkHandle } from "../../system/netlink/types.ts";
import type { CommandContext } from "../deps.ts";
import {
  attachHostVeth,
  configurePod,
  ensureBridge,
  ensureGateways,
  ensureProxyArp,
  ensureVeth,
  gatewaysOf,
} from "../ensure.ts";
import { IPPOOL_TYPE } from "../../ipam/config.ts";
import { messageOf, step, toCniError } from "../failure.ts";
import { firstHost } from "../ip.ts";
import { hostVethName, ipamOwner } from "../names.ts";

/** Opens the pod's netns; a missing one is error 4 naming CNI_NETNS. */
export function openPodNetns(ctx: CommandContext): NetlinkHandle {
  try {
    return ctx.deps.netlink.open(ctx.env.netns);
  } catch (e) {
    if (e instanceof NoSuchNetnsError || e instanceof NotFoundError) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `Cannot open CNI_NETNS ${ctx.env.netns}: no such network namespace`,
        messageOf(e),
      );
    }
    throw toCniError(e, `open CNI_NETNS ${ctx.env.netns}`);
  }
}

function iface(link: Link, sandbox?: string): ResultInterface {
  const out: ResultInterface = { name: link.name, mac: link.mac };
  if (link.mtu) out.mtu = link.mtu;
  if (sandbox !== undefined) out.sandbox = sandbox;
  return out;
}

/** Runs ADD and returns hostgate's own part of the result (dispatch merges prevResult). */
export async function cmdAdd(ctx: CommandContext): Promise<CniResult> {
  const { env, conf, deps, log } = ctx;
  const pod = openPodNetns(ctx);
  let host: NetlinkHandle | undefined;
  try {
    // Before IPAM: the ADD of a live attachment must fail without releasing its address.
    if (step(`look up ${env.ifname} in the pod`, () => pod.getLink(env.ifname))) {
      throw new CniError(
        CniCode.InterfaceExists,
        `Cannot add ${env.ifname}: interface ${env.ifname} already exists in ${env.netns}`,
      );
    }
    host = step("open the node netns", () => deps.netlink.open());
    // Before IPAM too: a name clash with a non-bridge must not even move the allocator.
    const bridge = ensureBridge(host, conf);
    const owner = ipamOwner(env);
    const hostName = hostVethName(env.containerId, env.ifname);
    const wanted = requestedIps({ cniArgs: env.args, args: conf.args, runtime: conf.runtime });
    const alloc: IpamResult = await ctx.ipam.add(
      owner,
      wanted.length > 0 ? { requestedIps: wanted } : undefined,
    );
    try {
      return wire({ ctx, host, pod, bridge, hostName, alloc });
    } catch (e) {
      log.warn("ADD failed, rolling back", { error: messageOf(e) });
      rollbackVeth(ctx, { host, hostName });
      await ctx.ipam.del(owner).catch((r) =>
        log.error("rollback: cannot release IPAM", { error: messageOf(r) })
      );
      throw e;
    }
  } finally {
    pod.close();
    host?.close();
  }
}

function rollbackVeth(ctx: CommandContext, on: { host: NetlinkHandle; hostName: string }): void {
  const { host, hostName } = on;
  try {
    const l = host.getLink(hostName);
    if (l) host.deleteLink(l.index);
  } catch (e) {
    if (!(e instanceof NotFoundError)) {
      ctx.log.error("rollback: cannot delete veth", { link: hostName, error: messageOf(e) });
    }
  }
}

interface WireArgs {
  ctx: CommandContext;
  host: NetlinkHandle;
  pod: NetlinkHandle;
  bridge: Link;
  hostName: string;
  alloc: IpamResult;
}

/** Every kernel step after IPAM, synchronous so no await ever runs between them. */
function wire({ ctx, host, pod, bridge, hostName, alloc }: WireArgs): CniResult {
  const { env, conf } = ctx;
  if (alloc.ips.length === 0) {
    throw new CniError(CniCode.InvalidNetworkConfig, "Cannot add: IPAM returned no address");
  }
  const gateways = gatewaysOf(alloc.ips, conf.isGateway);
  if (conf.isGateway) ensureGateways(host, { bridge, gateways, log: ctx.log });
  // A pool-wide prefix: pods on other nodes look on-link, the bridge must answer ARP for them.
  if (conf.ipam.type === IPPOOL_TYPE) ensureProxyArp(host, bridge);
  const vethReq = { hostName, ifname: env.ifname, netns: env.netns } as Parameters<
    typeof ensureVeth
  >[1];
  if (conf.mtu !== undefined) vethReq.mtu = conf.mtu;
  const veth = ensureVeth(host, vethReq);
  attachHostVeth(host, { veth, bridge, hairpin: conf.hairpinMode });
  const { link, routes } = configurePod(pod, {
    ifname: env.ifname,
    ips: alloc.ips,
    gateways: conf.isGateway ? gateways : [],
    ipamRoutes: alloc.routes,
    isDefaultGateway: conf.isDefaultGateway,
  });
  // Read back after enslaving: MACs and MTUs as the kernel now reports them.
  const br = host.getLinkByIndex(bridge.index) ?? bridge;
  const hv = host.getLinkByIndex(veth.index) ?? veth;
  return {
    interfaces: [iface(br), iface(hv), iface(link, env.netns)],
    ips: alloc.ips.map((ip) => {
      const out: { address: string; gateway?: string; interface: number } = {
        address: ip.address,
        interface: 2,
      };
      const gateway = ip.gateway ?? (conf.isGateway ? firstHost(ip.address) : undefined);
      if (gateway) out.gateway = gateway;
      return out;
    }),
    routes,
    dns: hasDns(alloc.dns) ? { ...alloc.dns } : conf.dns,
  };
}
