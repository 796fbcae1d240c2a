/**
 * GC: release everything that belongs to attachments the runtime no longer
 * knows. The IPAM backend frees stale reservations; here, host veths on the
 * bridge (or on none yet) whose derived name matches no valid attachment are
 * removed too (a kill -9 in the middle of ADD can leave one). An empty list means every
 * attachment is stale; no list at all is an error and deletes nothing.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import { NotFoundError } from "../../system/netlink/errors.ts";
import type { CommandContext } from "../deps.ts";
import { toCniError } from "../failure.ts";
import { gcGuards, guardDepsOf } from "../guard/mod.ts";
import { HOST_VETH_PATTERN, hostVethName } from "../names.ts";
import { listRecords, stateDirOf } from "../pod_record.ts";

/** Runs GC; keeps going past errors and reports them all at the end. */
export async function cmdGc(ctx: CommandContext): Promise<void> {
  // Without the list every attachment would look stale: refuse rather than delete them all.
  const valid = ctx.conf.validAttachments;
  if (valid === undefined) {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      "Cannot GC: the config has no cni.dev/valid-attachments (nor cni.dev/attachments) list",
      "nothing was deleted",
    );
  }
  const failures: CniError[] = [];
  try {
    await ctx.ipam.gc(valid);
  } catch (e) {
    failures.push(toCniError(e, "collect IPAM reservations"));
  }
  const keep = new Set(valid.map((a) => hostVethName(a.containerId, a.ifname)));
  try {
    const host = ctx.deps.netlink.open();
    try {
      // Routed veths have no master; in bridge mode unattached ones are half-made ADDs
      // killed before setMaster.
      const bridge = ctx.conf.mode === "bridge" ? host.getLink(ctx.conf.bridge) : undefined;
      if (bridge || ctx.conf.mode === "routed") {
        for (const link of host.listLinks()) {
          const ours = link.master === undefined ||
            (bridge !== undefined && link.master === bridge.index);
          if (link.kind !== "veth" || !ours) continue;
          if (!HOST_VETH_PATTERN.test(link.name) || keep.has(link.name)) continue;
          try {
            host.deleteLink(link.index);
            ctx.log.info("GC: removed stale veth", { link: link.name });
          } catch (e) {
            if (!(e instanceof NotFoundError)) failures.push(toCniError(e, `delete ${link.name}`));
          }
        }
      }
    } finally {
      host.close();
    }
  } catch (e) {
    failures.push(toCniError(e, "list host veths"));
  }
  if (ctx.conf.antiSpoofing) {
    try {
      const stale = await gcGuards(guardDepsOf(ctx.deps), keep);
      if (stale.length > 0) ctx.log.info("GC: removed stale guards", { veths: stale.join(",") });
    } catch (e) {
      failures.push(toCniError(e, "collect anti-spoofing elements"));
    }
  }
  // hostPorts, IFBs and records of stale pods (also nft elements whose record was lost).
  try {
    const records = await listRecords(ctx.deps.fs, {
      stateDir: stateDirOf(ctx.conf.raw),
      network: ctx.conf.name,
    });
    const { gcFeatures } = await import("../features.ts");
    for (const msg of await gcFeatures(ctx, { keep, records })) {
      failures.push(new CniError(CniCode.Internal, msg));
    }
  } catch (e) {
    failures.push(toCniError(e, "collect hostPorts and bandwidth limits"));
  }
  if (failures.length > 0) {
    throw new CniError(failures[0]!.code, failures.map((f) => f.message).join("; "));
  }
}
