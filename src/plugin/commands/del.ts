/**
 * DEL: undo ADD, tolerant of everything being gone already (repeated DEL,
 * no CNI_NETNS, netns or link removed). It keeps going past errors and
 * always releases the IPAM reservation; it fails at the end only when a
 * step really failed, naming every failure.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import { NotFoundError } from "../../system/netlink/errors.ts";
import type { NetlinkHandle } from "../../system/netlink/types.ts";
import type { DelContext } from "../deps.ts";
import { messageOf, toCniError } from "../failure.ts";
import { guardDepsOf, type GuardRemoval, removeGuard } from "../guard/mod.ts";
import { hostVethName, ipamOwner } from "../names.ts";
import { readRecord, recordPath, stateDirOf } from "../pod_record.ts";

/** Removes the host veth by its derived name; true when one was removed. */
function deleteHostVeth(host: NetlinkHandle, name: string): boolean {
  const link = host.getLink(name);
  if (!link) return false;
  try {
    host.deleteLink(link.index);
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
  return true;
}

/** Removes the pod end when the host end was not found (a renamed or odd leftover). */
function deletePodVeth(ctx: DelContext): void {
  let pod: NetlinkHandle;
  try {
    pod = ctx.deps.netlink.open(ctx.env.netns);
  } catch (e) {
    // Gone or not a netns any more: nothing of ours can be left in it.
    ctx.log.info("DEL: pod netns not usable, skipping", {
      netns: ctx.env.netns,
      error: messageOf(e),
    });
    return;
  }
  try {
    const link = pod.getLink(ctx.env.ifname);
    if (link && link.kind === "veth") {
      try {
        pod.deleteLink(link.index);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
  } finally {
    pod.close();
  }
}

export type { DelContext };

/**
 * What DEL knows of the guard's keys: the pod's MAC and addresses from
 * prevResult (the runtime passes ADD's result), trusted only when it names
 * this attachment's host veth; otherwise the guard is found by host veth.
 */
export function guardRemovalOf(ctx: DelContext, hostVeth: string): GuardRemoval {
  const out: GuardRemoval = { hostVeth, containerId: ctx.env.containerId, ifname: ctx.env.ifname };
  const prev = ctx.conf.prevResult;
  if (!prev || !prev.interfaces.some((i) => i.name === hostVeth && i.sandbox === undefined)) {
    return out;
  }
  const index = prev.interfaces.findIndex((i) =>
    i.name === ctx.env.ifname && i.sandbox !== undefined && i.mac
  );
  if (index < 0) return out;
  const ips = prev.ips.filter((ip) => ip.interface === index).map((ip) => ip.address);
  if (ips.length === 0) return out;
  return { ...out, mac: prev.interfaces[index]!.mac!, ips };
}

type Removal = { removed: boolean } | { error: unknown };

/**
 * Removes the pod's hostPorts and bandwidth IFB when its record says it has
 * any (the nft/tc code loads only then); settles with the error, if any.
 */
function startFeatureRemoval(ctx: DelContext, hostName: string): Promise<unknown> {
  return (async () => {
    const path = recordPath(stateDirOf(ctx.conf.raw), ctx.conf.name, hostName);
    const rec = await readRecord(ctx.deps.fs, path);
    if (!rec) return;
    const { delFeatures } = await import("../features.ts");
    await delFeatures(ctx, rec);
  })().then(() => undefined, (e) => e ?? new Error("unknown failure"));
}

/** Starts removing the host veth; settles (never rejects) when the kernel is done. */
function startHostRemoval(ctx: DelContext, hostName: string): Promise<Removal> {
  let host: NetlinkHandle;
  try {
    host = ctx.deps.netlink.open();
  } catch (error) {
    return Promise.resolve({ error });
  }
  const removing = host.deleteLinkByNameAsync
    ? host.deleteLinkByNameAsync(hostName)
    : Promise.resolve().then(() => deleteHostVeth(host, hostName));
  return removing.then((removed) => ({ removed }), (error) => ({ error })).finally(() =>
    host.close()
  );
}

/**
 * Runs DEL. The host veth is removed by name while the IPAM reservation is
 * released: deleting a veth keeps the kernel busy for an RCU barrier (~15-20
 * ms) that would otherwise come on top. This is NOT the reference bridge
 * plugin's order: it deletes the link in the pod first and calls IPAM DEL
 * after, so an address is never free while an interface still holds it.
 * Here the two overlap, so for those milliseconds a concurrent ADD could be
 * given the address while the old veth (already being torn down, its pod
 * gone) still carries it; its host route and ARP entry go with the link.
 * The IPAM release still completes (and is reported) even when the link
 * removal fails.
 */
export async function cmdDel(ctx: DelContext): Promise<void> {
  const failures: CniError[] = [];
  const hostName = hostVethName(ctx.env.containerId, ctx.env.ifname);
  const features = startFeatureRemoval(ctx, hostName);
  const removal = startHostRemoval(ctx, hostName);
  // The guard's elements are keyed by the veth's name and outlive it: removed beside the rest.
  const unguarding = ctx.conf.antiSpoofing
    ? removeGuard(guardDepsOf(ctx.deps), guardRemovalOf(ctx, hostName), ctx.conf.mode).then(
      () => undefined,
      (e: unknown) => e,
    )
    : Promise.resolve(undefined);
  let ipamFailure: CniError | undefined;
  try {
    await ctx.ipam().del(ipamOwner(ctx.env));
  } catch (e) {
    ipamFailure = toCniError(e, "release the IPAM reservation");
  }
  const r = await removal;
  if ("error" in r) failures.push(toCniError(r.error, `delete ${hostName}`));
  if (!("removed" in r && r.removed) && ctx.env.netns !== "") {
    try {
      deletePodVeth(ctx);
    } catch (e) {
      failures.push(toCniError(e, `delete ${ctx.env.ifname} in ${ctx.env.netns}`));
    }
  }
  const guardFailure = await unguarding;
  if (guardFailure) failures.push(toCniError(guardFailure, `remove the guard of ${hostName}`));
  if (ipamFailure) failures.push(ipamFailure);
  const featureFailure = await features;
  if (featureFailure) failures.push(toCniError(featureFailure, "remove hostPorts and bandwidth"));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    throw new CniError(
      failures[0]!.code ?? CniCode.Internal,
      failures.map((f) => f.message).join("; "),
      failures.map((f) => f.details).filter((d) => d).join("; "),
    );
  }
}
