/**
 * Bandwidth limits as tc changes (pure): traffic to the pod is shaped by a
 * TBF at the root of the host veth (it leaves the node through it); traffic
 * from the pod enters the node on the host veth, where an ingress qdisc
 * redirects it to the pod's IFB device, whose root TBF shapes it, as the
 * reference bandwidth plugin does. The kernel here has no police action or
 * matchall classifier: u32 "match all" with a mirred redirect is what works.
 * @module
 */
import type { Bandwidth, BandwidthLimit } from "../../cni/mod.ts";
import type { TcOp } from "../../system/tc.ts";
import { HOST_VETH_PREFIX } from "../names.ts";

/** Prefix of the IFB device of a pod: "hb" + the host veth's hash. */
export const IFB_PREFIX = "hb";
/** Matches exactly the IFB names `ifbName` produces. */
export const IFB_PATTERN = /^hb[0-9a-f]{12}$/;
/** TBF queue length expressed as time, as the reference plugin does (25 ms). */
export const TBF_LATENCY_US = 25_000;

/** The IFB device of the pod whose host veth is `hostVeth`. */
export function ifbName(hostVeth: string): string {
  return IFB_PREFIX + hostVeth.slice(HOST_VETH_PREFIX.length);
}

/** The host veth of an IFB device name. */
export function hostVethOfIfb(ifb: string): string {
  return HOST_VETH_PREFIX + ifb.slice(IFB_PREFIX.length);
}

/** Bytes of a burst given in bits (tc's TBF takes bytes), rounded up. */
export function burstBytes(bits: number): number {
  return Math.ceil(bits / 8);
}

function tbf(dev: string, l: BandwidthLimit): TcOp {
  return {
    op: "tbf",
    dev,
    rateBits: l.rate,
    burst: burstBytes(l.burst),
    latencyUs: TBF_LATENCY_US,
  };
}

/** The tc changes shaping one pod, in order (its IFB must exist when egress is limited). */
export function renderShaping(hostVeth: string, bw: Bandwidth): TcOp[] {
  const out: TcOp[] = [];
  if (bw.ingress) out.push(tbf(hostVeth, bw.ingress));
  if (bw.egress) {
    const ifb = ifbName(hostVeth);
    out.push(tbf(ifb, bw.egress));
    out.push({ op: "ingress", dev: hostVeth });
    out.push({ op: "redirect", dev: hostVeth, to: ifb });
  }
  return out;
}
