/**
 * Anti-spoofing per pod, as pure nft payloads (golden-tested in testdata/).
 *
 * Table ownership: the plugin owns `table netdev hostgate-guard` alone, one
 * base chain per attachment, named after the host veth (`hg` + 12 hex) and
 * hooked on that veth's ingress, so it sees every frame the pod sends before
 * the bridge (bridge mode) or the routing code (routed mode) does: one
 * mechanism for both modes. The agent's `inet hostgate` (FORWARD/MASQUERADE,
 * hostPort, bandwidth) and `inet hostgate-policy` (NetworkPolicy, which keys
 * on pod source addresses and relies on this table) are other tables; nothing
 * here reads or writes them.
 *
 * What a pod may send (policy drop for the rest): frames from its own MAC
 * only; IPv4 from its own addresses; ARP whose sender MAC and IP are its own
 * (0.0.0.0 for probes); IPv6 from its own addresses, a link-local or ::
 * (never routed); no router advertisement or redirect; a neighbour
 * advertisement only for its own addresses or its own link-local.
 * @module
 */
import { familyOf, ipToBigInt } from "../../net/mod.ts";
import { canonicalIp } from "../ip.ts";
import { type NftChain, parseNftTable } from "../../system/nft.ts";

/** The table the plugin owns. */
export const GUARD_TABLE = { family: "netdev", name: "hostgate-guard" } as const;

/** Priority of the per-pod ingress chains (before anything else on the veth). */
export const GUARD_PRIORITY = -500;

/** Matches a chain name the plugin may have made (a host veth name). */
export const GUARD_CHAIN_PATTERN = /^hg[0-9a-f]{12}$/;

/** One attachment's guard. */
export interface GuardSpec {
  /** The host veth: chain name and hooked device. */
  hostVeth: string;
  containerId: string;
  ifname: string;
  /** The pod interface's MAC, lower case. */
  mac: string;
  /** The pod's addresses, bare or with a prefix; IPv4 and IPv6. */
  ips: readonly string[];
}

const T = `${GUARD_TABLE.family} ${GUARD_TABLE.name}`;

/** Text safe inside an nft double-quoted comment (container IDs are already restricted). */
function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_.:\-/ ]/g, "_");
}

/** The chain's header, as `nft list` prints it. */
export function guardHeader(hostVeth: string): string {
  return `type filter hook ingress device "${hostVeth}" priority ${GUARD_PRIORITY}; policy drop;`;
}

/** The chain's comment (which container it guards). */
export function guardComment(spec: Pick<GuardSpec, "containerId" | "ifname">): string {
  return safe(`hostgate: anti-spoofing of container ${spec.containerId} ${spec.ifname}`);
}

/** The pod's EUI-64 link-local address (what the kernel gives its interface). */
export function linkLocalOf(mac: string): string {
  const b = mac.split(":").map((x) => parseInt(x, 16));
  b[0] = b[0]! ^ 0x02;
  const h = (x: number, y: number) => ((x << 8) | y).toString(16);
  return canonicalIp(
    `fe80::${h(b[0]!, b[1]!)}:${h(b[2]!, 0xff)}:${h(0xfe, b[3]!)}:${h(b[4]!, b[5]!)}`,
  );
}

/** An IPv6 address as a 128-bit hex literal (raw payload match of an ND target). */
export function v6Hex(ip: string): string {
  return "0x" + ipToBigInt(ip).toString(16).padStart(32, "0");
}

function set(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(", ")} }`;
}

/** The rules of one pod's chain, in order, in the syntax of the payload. */
export function guardRules(spec: GuardSpec): string[] {
  const mac = spec.mac.toLowerCase();
  const bare = spec.ips.map((ip) => canonicalIp(ip.split("/")[0]!));
  const v4 = bare.filter((ip) => familyOf(ip) === 4);
  const v6 = bare.filter((ip) => familyOf(ip) === 6);
  const out = [`ether saddr != ${mac} drop comment "hostgate: forged source MAC"`];
  if (v4.length > 0) {
    out.push(
      `arp saddr ether ${mac} arp saddr ip ${set(["0.0.0.0", ...v4])} accept ` +
        `comment "hostgate: ARP for own addresses"`,
      `ip saddr ${set(v4)} accept comment "hostgate: own IPv4 source"`,
    );
  }
  if (v6.length > 0) {
    const targets = [...v6, linkLocalOf(mac)].map(v6Hex);
    out.push(
      `icmpv6 type { nd-router-advert, nd-redirect } drop ` +
        `comment "hostgate: no router advertisement or redirect"`,
      `icmpv6 type nd-neighbor-advert @th,64,128 != ${set(targets)} drop ` +
        `comment "hostgate: neighbour advertisement for own addresses only"`,
      `ip6 saddr ${set(["::", "fe80::/10", ...v6])} accept ` +
        `comment "hostgate: own IPv6 source"`,
    );
  }
  return out;
}

/**
 * The `nft -f -` payload installing one pod's guard. Idempotent and atomic:
 * the chain is created (if absent), emptied, deleted and defined anew in one
 * transaction, so a repeated ADD leaves exactly one copy.
 */
export function renderGuardAdd(spec: GuardSpec): string {
  const c = `${T} ${spec.hostVeth}`;
  const def = `add chain ${c} { ${guardHeader(spec.hostVeth)} comment "${guardComment(spec)}"; }`;
  const out = [
    `add table ${T} { comment "hostgate: per-pod anti-spoofing, owned by the hostgate plugin"; }`,
    def,
    `flush chain ${c}`,
    `delete chain ${c}`,
    def,
    ...guardRules(spec).map((r) => `add rule ${c} ${r}`),
  ];
  return out.join("\n") + "\n";
}

/**
 * The payload removing the chains `hostVeths` (absent ones included: each is
 * created plain first, so the delete never fails), or "" when none.
 */
export function renderGuardRemove(hostVeths: readonly string[]): string {
  if (hostVeths.length === 0) return "";
  const out = [`add table ${T}`];
  for (const v of hostVeths) {
    out.push(`add chain ${T} ${v}`, `flush chain ${T} ${v}`, `delete chain ${T} ${v}`);
  }
  return out.join("\n") + "\n";
}

/** One chain as `nft list table` printed it. */
export type ListedGuard = NftChain;

/** Parses `nft list table netdev hostgate-guard` into its chains. */
export function parseGuardTable(text: string | undefined): Map<string, ListedGuard> {
  return text === undefined ? new Map() : parseNftTable(text).chains;
}

/**
 * What is wrong with the listed guard of `spec`, or undefined when it is in
 * place: the chain hooked on the veth with policy drop, as many rules as
 * rendered, the forged-MAC rule first and every own address present.
 */
export function guardProblem(listed: ListedGuard | undefined, spec: GuardSpec): string | undefined {
  const name = `chain ${GUARD_TABLE.name} ${spec.hostVeth}`;
  if (!listed) return `anti-spoofing ${name} is missing`;
  if (listed.header !== guardHeader(spec.hostVeth)) {
    return `anti-spoofing ${name} is hooked as "${listed.header}"`;
  }
  const want = guardRules(spec);
  if (listed.rules.length !== want.length) {
    return `anti-spoofing ${name} has ${listed.rules.length} rules, not ${want.length}`;
  }
  if (!listed.rules[0]!.startsWith(`ether saddr != ${spec.mac.toLowerCase()} drop`)) {
    return `anti-spoofing ${name} does not pin MAC ${spec.mac}`;
  }
  const text = listed.rules.join("\n");
  for (const ip of spec.ips) {
    const bare = canonicalIp(ip.split("/")[0]!);
    if (!text.includes(bare)) return `anti-spoofing ${name} does not allow ${bare}`;
  }
  return undefined;
}
