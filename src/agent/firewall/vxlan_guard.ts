/**
 * The VXLAN guard: UDP to the VXLAN port is accepted only from the node IPs
 * of known peers. A chain of hostgate's own in the IPv4 filter table,
 * HOSTGATE-VXLAN, jumped from INPUT by a rule that matches only that UDP
 * port (so it pre-empts nothing else): one RETURN per peer, then DROP. It is
 * kept with the peer set at every pass that changes it, and removed when
 * the node uses no VXLAN. Pure: save text in, restore payload out. The
 * nftables backend renders the same guard as a base chain of its own table
 * at the input hook (firewall.ts, `nftChainRules`).
 * @module
 */
import { parseSave, ruleKey, tokenize } from "../../system/iptables.ts";

/** hostgate's VXLAN guard chain (IPv4 filter). */
export const VXLAN_CHAIN = "HOSTGATE-VXLAN";

/** What the guard lets in. */
export interface VxlanGuard {
  /** VXLAN UDP port. */
  port: number;
  /** IPv4 node addresses of the peers reached by VXLAN. */
  peers: readonly string[];
}

const q = (s: string) => `"${s}"`;

function jumpRule(port: number): string {
  return `-p udp -m udp --dport ${port} -m comment --comment ${
    q("hostgate: VXLAN only from known peers")
  } -j ${VXLAN_CHAIN}`;
}

/** The chain's rules as iptables-save prints them (without "-A CHAIN"). */
export function guardRules(g: VxlanGuard): string[] {
  return [
    ...[...new Set(g.peers)].sort().map((p) =>
      `-s ${p}/32 -m comment --comment ${q("hostgate: VXLAN from a known peer")} -j RETURN`
    ),
    `-m comment --comment ${q("hostgate: VXLAN from an unknown sender")} -j DROP`,
  ];
}

function jumpsIn(rules: readonly string[]): string[] {
  return rules.filter((r) => {
    const w = tokenize(r);
    const j = w.indexOf("-j");
    return j >= 0 && w[j + 1] === VXLAN_CHAIN;
  });
}

/**
 * The `iptables-restore --noflush` payload bringing the guard in line with
 * `guard` (undefined: no guard at all), or "" when it already is.
 */
export function renderVxlanGuard(saveText: string, guard: VxlanGuard | undefined): string {
  const filter = parseSave(saveText).get("filter");
  const present = filter?.chains.has(VXLAN_CHAIN) ?? false;
  const have = filter?.rules.get(VXLAN_CHAIN) ?? [];
  const jumps = jumpsIn(filter?.rules.get("INPUT") ?? []);
  if (!guard) {
    if (!present && jumps.length === 0) return "";
    const out = ["*filter", ...jumps.map((j) => `-D INPUT ${j}`)];
    if (present) out.push(`-F ${VXLAN_CHAIN}`, `-X ${VXLAN_CHAIN}`);
    return [...out, "COMMIT"].join("\n") + "\n";
  }
  const want = guardRules(guard);
  const jump = jumpRule(guard.port);
  const keep = jumps.find((j) => ruleKey(j) === ruleKey(jump));
  const rulesOk = present && have.length === want.length &&
    have.every((r, i) => ruleKey(r) === ruleKey(want[i]!));
  if (rulesOk && keep !== undefined && jumps.length === 1) return "";
  const out = ["*filter", `:${VXLAN_CHAIN} - [0:0]`, ...want.map((r) => `-A ${VXLAN_CHAIN} ${r}`)];
  // The jump matches only the VXLAN port, so first place pre-empts no other traffic.
  if (keep === undefined) out.push(`-I INPUT 1 ${jump}`);
  let kept = false;
  for (const j of jumps) {
    if (j === keep && !kept) {
      kept = true;
      continue;
    }
    out.push(`-D INPUT ${j}`);
  }
  return [...out, "COMMIT"].join("\n") + "\n";
}
