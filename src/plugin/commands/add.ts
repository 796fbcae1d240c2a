/**
 * ADD: wire one pod, routed (wiring/routed.ts) or onto the node's bridge
 * (ensure.ts), with its anti-spoofing guard (guard/: set elements, in-process). A chain of idempotent
 * ensure* steps; once IPAM has handed out an address every later failure rolls back
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
  type VethRequest,
} from "../ensure.ts";
import { applyGuard, guardDepsOf, type GuardSpec, removeGuard } from "../guard/mod.ts";
import {
  configureRoutedPod,
  ensureForwarding,
  ensureHostSide,
  hostCidr,
  routedGateway,
} from "../wiring/routed.ts";
import { IPPOOL_TYPE } from "../../ipam/config.ts";
import { messageOf, step, toCniError } from "../failure.ts";
import { familyOf, firstHost } from "../ip.ts";
import { hostVethName, ipamOwner } from "../names.ts";
import { randomMac } from "../../system/netlink/bridge.ts";
import { wantsRecord } from "../pod_record.ts";

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
    const hostName = hostVethName(env.containerId, env.ifname);
    // Before IPAM: a veth's peer dies with its netns, so a host veth of this containerId+ifname
    // whose peer is not in CNI_NETNS (checked above) is a live pod elsewhere; wiring over it
    // would take its link and its address.
    if (step(`look up ${hostName}`, () => host!.getLink(hostName))) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `Cannot add ${env.containerId}/${env.ifname} in ${env.netns}: ` +
          `the attachment is already wired into another network namespace`,
        `host veth ${hostName} exists; DEL the first attachment before adding it again`,
      );
    }
    // Before IPAM too: a name clash with a non-bridge must not even move the allocator.
    const bridge = conf.mode === "bridge" ? ensureBridge(host, conf) : undefined;
    const owner = ipamOwner(env);
    const wanted = requestedIps({ cniArgs: env.args, args: conf.args, runtime: conf.runtime });
    const alloc: IpamResult = await ctx.ipam.add(
      owner,
      wanted.length > 0 ? { requestedIps: wanted } : undefined,
    );
    const podMac = randomMac();
    const guard: GuardSpec | undefined = conf.antiSpoofing
      ? {
        hostVeth: hostName,
        containerId: env.containerId,
        ifname: env.ifname,
        mac: podMac,
        ips: alloc.ips.map((ip) => ip.address),
      }
      : undefined;
    try {
      const result = wire({ ctx, host, pod, bridge, hostName, alloc, podMac });
      // The pod runs nothing before ADD returns: its elements go in after the veth exists.
      if (guard) await applyGuard(guardDepsOf(deps), guard, conf.mode);
      // hostPorts and bandwidth (capabilities): their code loads only when asked for.
      if (wantsRecord(conf.runtime)) {
        const { addFeatures } = await import("../features.ts");
        await addFeatures(ctx, {
          containerId: env.containerId,
          ifname: env.ifname,
          hostVeth: hostName,
          podIps: alloc.ips.map((ip) => ip.address),
          hostLinks: bridge ? [conf.bridge, hostName] : [hostName],
          ...(conf.mtu === undefined ? {} : { mtu: conf.mtu }),
        });
      }
      return result;
    } catch (e) {
      log.warn("ADD failed, rolling back", { error: messageOf(e) });
      rollbackVeth(ctx, { host, hostName });
      if (guard) {
        await removeGuard(guardDepsOf(deps), guard, conf.mode).catch((r) =>
          log.error("rollback: cannot remove anti-spoofing", { error: messageOf(r) })
        );
      }
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
  /** The bridge in bridge mode; undefined in routed mode. */
  bridge: Link | undefined;
  hostName: string;
  alloc: IpamResult;
  podMac: string;
}

/** Every kernel step after IPAM, synchronous so no await ever runs between them. */
function wire(a: WireArgs): CniResult {
  if (a.alloc.ips.length === 0) {
    throw new CniError(CniCode.InvalidNetworkConfig, "Cannot add: IPAM returned no address");
  }
  const { env, conf } = a.ctx;
  const vethReq: VethRequest = {
    hostName: a.hostName,
    ifname: env.ifname,
    netns: env.netns,
    peerMac: a.podMac,
  };
  if (conf.mtu !== undefined) vethReq.mtu = conf.mtu;
  return a.bridge ? wireBridge(a, a.bridge, vethReq) : wireRouted(a, vethReq);
}

function wireRouted(a: WireArgs, vethReq: VethRequest): CniResult {
  const { ctx, host, pod, alloc } = a;
  const { env, conf } = ctx;
  ensureForwarding(host, { families: alloc.ips.map((ip) => familyOf(ip.address)), log: ctx.log });
  const veth = ensureVeth(host, vethReq);
  ensureHostSide(host, { veth, ips: alloc.ips, podMac: a.podMac });
  const { link, routes } = configureRoutedPod(pod, {
    ifname: env.ifname,
    ips: alloc.ips,
    hostMac: veth.mac,
    ipamRoutes: alloc.routes,
    isDefaultGateway: conf.isDefaultGateway,
  });
  const hv = host.getLinkByIndex(veth.index) ?? veth;
  return {
    interfaces: [iface(hv), iface(link, env.netns)],
    ips: alloc.ips.map((ip) => ({
      address: hostCidr(ip.address),
      gateway: routedGateway(familyOf(ip.address)),
      interface: 1,
    })),
    routes,
    dns: hasDns(alloc.dns) ? { ...alloc.dns } : conf.dns,
  };
}

function wireBridge(a: WireArgs, bridge: Link, vethReq: VethRequest): CniResult {
  const { ctx, host, pod, alloc } = a;
  const { env, conf } = ctx;
  const gateways = gatewaysOf(alloc.ips, conf.isGateway);
  if (conf.isGateway) ensureGateways(host, { bridge, gateways, log: ctx.log });
  // A pool-wide prefix: pods on other nodes look on-link, the bridge must answer ARP for them.
  if (conf.ipam.type === IPPOOL_TYPE) ensureProxyArp(host, bridge);
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
