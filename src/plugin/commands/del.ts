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
import type { CommandContext } from "../deps.ts";
import { messageOf, toCniError } from "../failure.ts";
import { hostVethName, ipamOwner } from "../names.ts";

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
function deletePodVeth(ctx: CommandContext): void {
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

/** Runs DEL. */
export async function cmdDel(ctx: CommandContext): Promise<void> {
  const failures: CniError[] = [];
  const hostName = await hostVethName(ctx.env.containerId, ctx.env.ifname);
  let removed = false;
  try {
    const host = ctx.deps.netlink.open();
    try {
      removed = deleteHostVeth(host, hostName);
    } finally {
      host.close();
    }
  } catch (e) {
    failures.push(toCniError(e, `delete ${hostName}`));
  }
  if (!removed && ctx.env.netns !== "") {
    try {
      deletePodVeth(ctx);
    } catch (e) {
      failures.push(toCniError(e, `delete ${ctx.env.ifname} in ${ctx.env.netns}`));
    }
  }
  try {
    await ctx.ipam.del(ipamOwner(ctx.env));
  } catch (e) {
    failures.push(toCniError(e, "release the IPAM reservation"));
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    throw new CniError(
      failures[0]!.code ?? CniCode.Internal,
      failures.map((f) => f.message).join("; "),
      failures.map((f) => f.details).filter((d) => d).join("; "),
    );
  }
}
