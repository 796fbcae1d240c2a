/**
 * CHECK: compare what prevResult says with what the kernel and the IPAM
 * store hold now: the bridge, the host veth on it, the pod interface with
 * its MAC and addresses, the routes, and the reservation. Any difference
 * is error 103 saying what differs.
 * @module
 */
import type { CniResult } from "../../cni/mod.ts";
import { CniCode, CniError, invalidConfig } from "../../errors.ts";
import type { NetlinkHandle, Route } from "../../system/netlink/types.ts";
import type { CommandContext } from "../deps.ts";
import { messageOf, step } from "../failure.ts";
import { canonicalCidr, canonicalIp, familyOf, splitCidr } from "../ip.ts";
import { hostVethName, ipamOwner } from "../names.ts";
import { openPodNetns } from "./add.ts";
import { checkGuard, guardDepsOf } from "../guard/mod.ts";
import { hostCidr, isPodRoute } from "../wiring/routed.ts";
import { readRecord, recordPath, stateDirOf, wantsRecord } from "../pod_record.ts";

function mismatch(msg: string): CniError {
  return new CniError(CniCode.CheckFailed, `Cannot confirm attachment: ${msg}`);
}

/** Index in prevResult.interfaces of this attachment's container interface. */
function containerIndex(prev: CniResult, at: { ifname: string; netns: string }): number {
  const { ifname, netns } = at;
  const i = prev.interfaces.findIndex((f) => f.name === ifname && f.sandbox === netns);
  if (i < 0) throw mismatch(`prevResult has no interface ${ifname} in ${netns}`);
  return i;
}

function checkHost(ctx: CommandContext, on: { host: NetlinkHandle; hostName: string }): void {
  const { host, hostName } = on;
  if (ctx.conf.mode === "routed") return checkRoutedHost(on);
  const bridge = step(`look up ${ctx.conf.bridge}`, () => host.getLink(ctx.conf.bridge));
  if (!bridge) throw mismatch(`bridge ${ctx.conf.bridge} does not exist`);
  if (bridge.kind !== "bridge") throw mismatch(`${ctx.conf.bridge} is not a bridge`);
  const veth = step(`look up ${hostName}`, () => host.getLink(hostName));
  if (!veth) throw mismatch(`host veth ${hostName} does not exist`);
  if (veth.master !== bridge.index) throw mismatch(`${hostName} is not attached to ${bridge.name}`);
  if (!veth.up) throw mismatch(`${hostName} is down`);
}

/** Routed: the host veth up and on no bridge, and a host route on it per pod address. */
function checkRoutedHost(
  on: { host: NetlinkHandle; hostName: string; podIps?: string[] },
): void {
  const { host, hostName } = on;
  const veth = step(`look up ${hostName}`, () => host.getLink(hostName));
  if (!veth) throw mismatch(`host veth ${hostName} does not exist`);
  if (veth.master !== undefined) {
    throw mismatch(`${hostName} is enslaved, routed mode has no bridge`);
  }
  if (!veth.up) throw mismatch(`${hostName} is down`);
  if (!on.podIps) return;
  const routes = step(
    "list routes on the host veth",
    () => host.listRoutes({ linkIndex: veth.index }),
  );
  for (const ip of on.podIps) {
    const dst = hostCidr(ip);
    const found = routes.some((r) => isPodRoute(r) && canonicalCidr(r.dst) === dst);
    if (!found) throw mismatch(`host route ${dst} dev ${hostName} is missing`);
  }
}

function routeMatches(r: Route, want: { dst: string; gw?: string }): boolean {
  if (canonicalCidr(r.dst) !== want.dst) return false;
  if (want.gw === undefined) return true;
  return r.gateway !== undefined && canonicalIp(r.gateway) === want.gw;
}

function checkPod(
  ctx: CommandContext,
  on: { pod: NetlinkHandle; prev: CniResult; index: number },
): { ips: string[]; mac: string } {
  const { pod, prev, index } = on;
  const { ifname } = ctx.env;
  const want = prev.interfaces[index]!;
  const link = step(`look up ${ifname} in the pod`, () => pod.getLink(ifname));
  if (!link) throw mismatch(`${ifname} does not exist in ${ctx.env.netns}`);
  if (want.mac && want.mac.toLowerCase() !== link.mac.toLowerCase()) {
    throw mismatch(`${ifname} has MAC ${link.mac}, prevResult says ${want.mac}`);
  }
  if (!link.up) throw mismatch(`${ifname} is down`);
  const have = new Set(
    step(`list addresses of ${ifname}`, () => pod.listAddrs({ linkIndex: link.index }))
      .map((a) => canonicalCidr(a.cidr)),
  );
  const ips = prev.ips.filter((ip) => ip.interface === index);
  for (const ip of ips) {
    if (!have.has(canonicalCidr(ip.address))) {
      throw mismatch(`${ifname} lacks address ${ip.address}`);
    }
  }
  const routes = step("list routes in the pod", () => pod.listRoutes());
  for (const r of prev.routes) {
    const dst = canonicalCidr(r.dst);
    const gw = r.gw ? canonicalIp(r.gw) : undefined;
    const found = routes.some((k) =>
      k.family === familyOf(dst) && routeMatches(k, gw ? { dst, gw } : { dst })
    );
    if (!found) throw mismatch(`route ${r.dst}${r.gw ? ` via ${r.gw}` : ""} is missing in the pod`);
  }
  return { ips: ips.map((ip) => splitCidr(ip.address)[0]), mac: link.mac };
}

/** The pod's hostPorts and bandwidth limits, when it has a record or the runtime asks for them. */
async function checkPodFeatures(ctx: CommandContext, hostName: string): Promise<void> {
  const path = recordPath(stateDirOf(ctx.conf.raw), ctx.conf.name, hostName);
  const rec = await readRecord(ctx.deps.fs, path);
  if (!rec) {
    if (wantsRecord(ctx.conf.runtime)) throw mismatch(`no hostPort/bandwidth record at ${path}`);
    return;
  }
  const { checkFeatures } = await import("../features.ts");
  await checkFeatures(ctx, rec);
}

/** Runs CHECK; resolves when everything matches. */
export async function cmdCheck(ctx: CommandContext): Promise<void> {
  const prev = ctx.conf.prevResult;
  if (!prev) throw invalidConfig("prevResult", "is required for CHECK");
  const index = containerIndex(prev, ctx.env);
  const hostName = hostVethName(ctx.env.containerId, ctx.env.ifname);
  const host = step("open the node netns", () => ctx.deps.netlink.open());
  const pod = openPodNetns(ctx);
  let ips: string[];
  let mac: string;
  try {
    checkHost(ctx, { host, hostName });
    ({ ips, mac } = checkPod(ctx, { pod, prev, index }));
    if (ctx.conf.mode === "routed") checkRoutedHost({ host, hostName, podIps: ips });
  } finally {
    pod.close();
    host.close();
  }
  if (ctx.conf.antiSpoofing) {
    const spec = { hostVeth: hostName, containerId: ctx.env.containerId, ifname: ctx.env.ifname };
    let problem: string | undefined;
    try {
      problem = await checkGuard(guardDepsOf(ctx.deps), { ...spec, mac, ips }, ctx.conf.mode);
    } catch (e) {
      throw mismatch(`cannot read the anti-spoofing sets: ${messageOf(e)}`);
    }
    if (problem) throw mismatch(problem);
  }
  await checkPodFeatures(ctx, hostName);
  try {
    await ctx.ipam.check(ipamOwner(ctx.env), ips);
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw mismatch(`IPAM holds no reservation for ${ips.join(", ")}: ${messageOf(e)}`);
  }
}
