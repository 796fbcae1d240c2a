/**
 * The evaluator behind `policy explain`: decides a new connection from the
 * resolved model the compiler also reads, and says why (which policies
 * isolate each side, which rule allowed, or that none did). What it
 * answers is what the nft table enforces: the node's own addresses reach
 * its pods, replies ride conntrack, hostNetwork pods are the node.
 * @module
 */
import { type Family, parseIp } from "../../net/address.ts";
import { setHas } from "./intervals.ts";
import { keyOf } from "./resolve.ts";
import type { PolicyModel, PolicyPod, Protocol, ResolvedRule } from "./types.ts";

/** A new connection to decide. */
export interface Packet {
  src: string;
  dst: string;
  /** TCP, UDP, SCTP, or ICMP (no port). */
  protocol: Protocol | "ICMP";
  port: number;
}

/** Addresses of each node (its own addresses count as the node, as do hostNetwork pods). */
export type NodeAddresses = ReadonlyMap<string, readonly string[]>;

/** The decision of one side. */
export interface SideVerdict {
  /** The pod on this side ("ns/name"), when the address is a pod's. */
  pod?: string;
  /** Node that enforces this side (the pod's node). */
  node?: string;
  /** Policies isolating this side in this direction. */
  isolatedBy: string[];
  allowed: boolean;
  /** The first rule that allows (in compile order). */
  rule?: ResolvedRule;
  /** Why, in one line. */
  reason: string;
}

/** The decision of a connection: egress of the source, then ingress of the destination. */
export interface Verdict {
  allowed: boolean;
  egress: SideVerdict;
  ingress: SideVerdict;
}

/** Finds the pod (not hostNetwork) that owns an address. */
export function podByIp(model: PolicyModel, ip: string): PolicyPod | undefined {
  const want = parseIp(ip);
  for (const p of model.pods.values()) {
    if (p.hostNetwork) continue;
    if (
      p.ips.some((x) => {
        const a = parseIp(x);
        return a.family === want.family && a.value === want.value;
      })
    ) {
      return p;
    }
  }
  return undefined;
}

/** True when `rule` matches a packet whose peer is `peer` and destination `dst`. */
export function ruleMatches(
  rule: ResolvedRule,
  peer: { family: Family; value: bigint },
  pkt: Packet,
  dst: { family: Family; value: bigint },
): boolean {
  if (!rule.anyPeer && !setHas(rule.peers, peer.family, peer.value)) return false;
  if (rule.anyPort) return true;
  if (pkt.protocol === "ICMP") return false;
  if (rule.ports.some((r) => r.protocol === pkt.protocol && pkt.port >= r.lo && pkt.port <= r.hi)) {
    return true;
  }
  return rule.namedPorts.some((n) =>
    n.family === dst.family && n.address === dst.value && n.protocol === pkt.protocol &&
    n.port === pkt.port
  );
}

function rulesOf(model: PolicyModel, keys: string[], dir: "ingress" | "egress"): ResolvedRule[] {
  const byKey = new Map(model.policies.map((p) => [p.key, p]));
  return keys.flatMap((k) => byKey.get(k)?.[dir] ?? []);
}

function isNodeAddress(nodes: NodeAddresses | undefined, node: string, ip: string): boolean {
  const want = parseIp(ip);
  return (nodes?.get(node) ?? []).some((x) => {
    const a = parseIp(x);
    return a.family === want.family && a.value === want.value;
  });
}

/** Decides a new connection `pkt`. */
export function evaluate(model: PolicyModel, pkt: Packet, nodes?: NodeAddresses): Verdict {
  if (model.scope !== undefined) {
    throw new Error(`Cannot evaluate: the model holds only node ${model.scope}'s policies`);
  }
  const src = parseIp(pkt.src);
  const dst = parseIp(pkt.dst);
  const srcPod = podByIp(model, pkt.src);
  const dstPod = podByIp(model, pkt.dst);
  const side = (pod: PolicyPod | undefined, dir: "ingress" | "egress"): SideVerdict => {
    if (!pod) return { isolatedBy: [], allowed: true, reason: "not a pod: no policy applies" };
    const base = { pod: keyOf(pod), node: pod.nodeName };
    const iso = model.isolation.get(keyOf(pod))?.[dir] ?? [];
    if (iso.length === 0) {
      return { ...base, isolatedBy: [], allowed: true, reason: `no policy isolates it for ${dir}` };
    }
    if (dir === "ingress" && isNodeAddress(nodes, pod.nodeName, pkt.src)) {
      return {
        ...base,
        isolatedBy: iso,
        allowed: true,
        reason: "from its own node (always allowed)",
      };
    }
    const peer = dir === "ingress" ? src : dst;
    const rule = rulesOf(model, iso, dir).find((r) => ruleMatches(r, peer, pkt, dst));
    if (rule) {
      return {
        ...base,
        isolatedBy: iso,
        allowed: true,
        rule,
        reason: `allowed by ${rule.policy} ${dir} rule ${rule.index}: ${rule.text}`,
      };
    }
    return {
      ...base,
      isolatedBy: iso,
      allowed: false,
      reason: `denied: no ${dir} rule of ${iso.join(", ")} matches`,
    };
  };
  const egress = side(srcPod, "egress");
  const ingress = side(dstPod, "ingress");
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}
