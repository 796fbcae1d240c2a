/**
 * Bandwidth effects: create the pod's IFB (netlink) and apply its qdiscs and
 * filter (rtnetlink in-process, the `Tc` the plugin is given), remove the IFB (the veth's qdiscs go with the
 * veth), verify with tc's own report, and collect IFBs of stale pods.
 * @module
 */
import type { Bandwidth, BandwidthLimit } from "../../cni/mod.ts";
import { CniCode, CniError } from "../../errors.ts";
import { NotFoundError } from "../../system/netlink/errors.ts";
import type { NetlinkHandle } from "../../system/netlink/types.ts";
import type { Tc, TcQdisc } from "../../system/tc.ts";
import { burstBytes, hostVethOfIfb, IFB_PATTERN, ifbName, renderShaping } from "./render.ts";

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Shapes the pod behind `hostVeth`; on failure removes its IFB again and throws. */
export async function ensureShaping(
  deps: { tc: Tc; host: NetlinkHandle },
  opts: { hostVeth: string; bandwidth: Bandwidth; mtu?: number },
): Promise<void> {
  const { host, tc } = deps;
  if (opts.bandwidth.egress) {
    const name = ifbName(opts.hostVeth);
    try {
      const ifb = host.getLink(name) ??
        host.addIfb(opts.mtu === undefined ? { name } : { name, mtu: opts.mtu });
      host.setLinkUp(ifb.index);
    } catch (e) {
      throw new CniError(CniCode.NetlinkFailure, `Cannot add IFB ${name}: ${messageOf(e)}`);
    }
  }
  try {
    await tc.apply(renderShaping(opts.hostVeth, opts.bandwidth));
  } catch (e) {
    removeShaping(host, opts.hostVeth);
    throw new CniError(CniCode.Internal, `Cannot apply bandwidth limits: ${messageOf(e)}`);
  }
}

/** Deletes the pod's IFB (absent is fine); the host veth's own qdiscs go with the veth. */
export function removeShaping(host: NetlinkHandle, hostVeth: string): boolean {
  const l = host.getLink(ifbName(hostVeth));
  if (!l) return false;
  try {
    host.deleteLink(l.index);
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
  return true;
}

function tbfMatches(q: TcQdisc | undefined, want: BandwidthLimit): boolean {
  if (!q || q.kind !== "tbf" || q.options?.rate === undefined) return false;
  // tc reports bytes per second; the kernel keeps the rate in bytes.
  if (Math.abs(q.options.rate * 8 - want.rate) >= 8) return false;
  const burst = q.options.burst;
  // The kernel keeps the burst as a time at that rate: allow its rounding (2%).
  return burst === undefined ||
    Math.abs(burst - burstBytes(want.burst)) <= burstBytes(want.burst) / 50 + 1;
}

function mismatch(msg: string): CniError {
  return new CniError(CniCode.CheckFailed, `Cannot confirm attachment: ${msg}`);
}

/** CHECK: the TBFs, the ingress redirect and the IFB are there with the requested rates. */
export async function checkShaping(
  deps: { tc: Tc },
  opts: { hostVeth: string; bandwidth: Bandwidth },
): Promise<void> {
  const { tc } = deps;
  const { hostVeth, bandwidth } = opts;
  if (bandwidth.ingress) {
    const root = (await tc.qdiscs(hostVeth)).find((q) => q.root);
    if (!tbfMatches(root, bandwidth.ingress)) {
      throw mismatch(`${hostVeth} has no TBF of ${bandwidth.ingress.rate} bit/s (ingress limit)`);
    }
  }
  if (bandwidth.egress) {
    const ifb = ifbName(hostVeth);
    const root = (await tc.qdiscs(ifb)).find((q) => q.root);
    if (!tbfMatches(root, bandwidth.egress)) {
      throw mismatch(`${ifb} has no TBF of ${bandwidth.egress.rate} bit/s (egress limit)`);
    }
    const filters = await tc.ingressFilters(hostVeth);
    if (!filters.some((f) => f.redirectTo === ifb)) {
      throw mismatch(`${hostVeth} does not redirect its ingress to ${ifb}`);
    }
  }
}

/** GC: deletes IFBs of pods whose host veth is not in `keep`; returns their names. */
export function gcShaping(host: NetlinkHandle, keep: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const l of host.listLinks()) {
    if (l.kind !== "ifb" || !IFB_PATTERN.test(l.name) || keep.has(hostVethOfIfb(l.name))) continue;
    try {
      host.deleteLink(l.index);
      out.push(l.name);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
  return out;
}
