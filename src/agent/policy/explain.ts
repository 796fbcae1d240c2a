/**
 * `policy explain`: for a connection between two pods (or addresses), which
 * policies select each side, which rule allows it or why it is denied, and
 * the nft the deciding node holds for it (map element, rule, or the chain's
 * drop). Built from the same resolved model and compiler output the agent
 * enforces, so explain and the table cannot disagree. Pure.
 * @module
 */
import { isIp } from "../../net/address.ts";
import { compile, groupChainName, rulesOf } from "./compile.ts";
import { evaluate, type NodeAddresses, type Packet, type SideVerdict } from "./evaluate.ts";
import { ruleCmd } from "./nft_model.ts";
import { keyOf } from "./resolve.ts";
import type { PolicyModel, Protocol } from "./types.ts";

/** What the user asked. */
export interface ExplainQuery {
  /** "ns/pod" or an address. */
  from: string;
  to: string;
  /** "80/TCP", "53/udp", "icmp". */
  port: string;
}

/** Parses "80/TCP" (TCP when no protocol) or "icmp". */
export function parsePortSpec(s: string): { protocol: Protocol | "ICMP"; port: number } {
  if (/^icmp$/i.test(s)) return { protocol: "ICMP", port: 0 };
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(s.trim());
  if (!m || Number(m[1]) > 65535) {
    throw new Error(`Cannot parse --port: ${s} is not PORT[/TCP|UDP|SCTP] or icmp`);
  }
  return { protocol: (m[2]?.toUpperCase() ?? "TCP") as Protocol, port: Number(m[1]) };
}

/** The address of "ns/pod" or an address itself. */
export function addressOf(model: PolicyModel, who: string): string {
  if (isIp(who)) return who;
  const key = who.includes("/") ? who : `default/${who}`;
  const pod = model.pods.get(key);
  if (!pod) throw new Error(`Cannot explain: no pod ${key}`);
  const ip = pod.ips.find((x) => !x.includes(":")) ?? pod.ips[0];
  if (!ip) throw new Error(`Cannot explain: pod ${key} has no address yet`);
  return ip;
}

function nftOf(
  model: PolicyModel,
  side: SideVerdict,
  dir: "ingress" | "egress",
  ip: string,
): string[] {
  if (!side.pod || !side.node || side.isolatedBy.length === 0) return [];
  const m = compile(model, { node: side.node });
  const chain = groupChainName(dir, side.isolatedBy);
  const fam = ip.includes(":") ? 6 : 4;
  const lines = [`map ${dir}${fam}: ${ip} : jump ${chain}   (node ${side.node})`];
  if (side.rule) {
    const fams = [...m.maps.keys()].filter((k) => k.startsWith("ingress")).map((k) =>
      Number(k.slice(-1)) as 4 | 6
    );
    for (const r of rulesOf(side.rule, fams)) lines.push(ruleCmd(chain, r));
  } else if (!side.allowed) {
    const drop = m.chains.get(chain)?.rules.at(-1);
    if (drop) lines.push(ruleCmd(chain, drop));
  } else {
    lines.push("forward: fib saddr type local accept (the node itself)");
  }
  return lines;
}

function sideText(title: string, side: SideVerdict, nft: string[]): string[] {
  const out = [`${title}: ${side.pod ?? "(not a pod)"}${side.node ? ` on ${side.node}` : ""}`];
  out.push(`  isolated by: ${side.isolatedBy.length ? side.isolatedBy.join(", ") : "none"}`);
  out.push(`  ${side.allowed ? "ALLOW" : "DENY"}: ${side.reason}`);
  for (const l of nft) out.push(`  nft: ${l}`);
  return out;
}

/** The explanation text, and whether the connection is allowed. */
export function explain(
  model: PolicyModel,
  q: ExplainQuery,
  nodes?: NodeAddresses,
): { allowed: boolean; text: string } {
  const spec = parsePortSpec(q.port);
  const pkt: Packet = { src: addressOf(model, q.from), dst: addressOf(model, q.to), ...spec };
  const v = evaluate(model, pkt, nodes);
  const what = spec.protocol === "ICMP" ? "ICMP" : `${spec.port}/${spec.protocol}`;
  const lines = [
    `${q.from} (${pkt.src}) -> ${q.to} (${pkt.dst}) ${what}: ${v.allowed ? "ALLOWED" : "DENIED"}`,
    ...sideText("egress of source", v.egress, nftOf(model, v.egress, "egress", pkt.src)),
    ...sideText("ingress of destination", v.ingress, nftOf(model, v.ingress, "ingress", pkt.dst)),
    "replies of an allowed connection pass by conntrack (ct state established,related accept)",
  ];
  return { allowed: v.allowed, text: lines.join("\n") + "\n" };
}

/** Every pod key of the model, for error messages and completion. */
export function podKeys(model: PolicyModel): string[] {
  return [...model.pods.values()].map(keyOf).sort();
}
