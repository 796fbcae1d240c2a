/**
 * One pod's guard as set elements (pure): its host veth in `guarded`, its
 * MAC, its addresses and its neighbour-advertisement targets, keyed by the
 * host veth so elements of different pods never collide, in the tables of
 * its mode (render.ts).
 * @module
 */
import { familyOf } from "../../net/mod.ts";
import {
  decodeKey,
  encodeKey,
  type KeyValue,
  type SetElementOp,
  type SetRef,
} from "../../system/nftables/mod.ts";
import { canonicalIp } from "../ip.ts";
import {
  GUARD_NAME,
  GUARD_SETS,
  GUARD_TABLES,
  type GuardMode,
  type GuardSet,
  type GuardTable,
  linkLocalOf,
} from "./render.ts";

/** One attachment's guard. */
export interface GuardSpec {
  /** The host veth: every element's first key field. */
  hostVeth: string;
  containerId: string;
  ifname: string;
  /** The pod interface's MAC. */
  mac: string;
  /** The pod's addresses, bare or with a prefix; IPv4 and IPv6. */
  ips: readonly string[];
}

/** The set `set` of table `t`. */
export function guardRef(t: GuardTable, set: GuardSet): SetRef {
  return { family: t.family, table: GUARD_NAME, set };
}

/** Text safe in an nft comment, at most 128 bytes. */
function commentOf(spec: Pick<GuardSpec, "containerId" | "ifname">): string {
  return `hostgate: ${spec.containerId} ${spec.ifname}`.replace(/[^A-Za-z0-9_.:\-/ ]/g, "_")
    .slice(0, 128);
}

/** An IPv6 address's 16 bytes (the raw ND target key field). */
function v6Bytes(ip: string): Uint8Array {
  return encodeKey(["ipv6_addr"], [ip]);
}

/** The elements of `spec` in one table, the `guarded` one last. */
function tableElements(
  t: GuardTable,
  spec: GuardSpec,
): { set: GuardSet; values: KeyValue[] }[] {
  const v = spec.hostVeth;
  const bare = spec.ips.map((ip) => canonicalIp(ip.split("/")[0]!));
  const v4 = bare.filter((ip) => familyOf(ip) === 4);
  const v6 = bare.filter((ip) => familyOf(ip) === 6);
  const mac = spec.mac.toLowerCase();
  const targets = [...new Set([...v6, linkLocalOf(mac)])];
  const out: { set: GuardSet; values: KeyValue[] }[] = [];
  for (const set of t.sets) {
    if (set === "macs") out.push({ set, values: [v, mac] });
    if (set === "addr4") { for (const ip of v4) out.push({ set, values: [v, ip] }); }
    if (set === "addr6") { for (const ip of v6) out.push({ set, values: [v, ip] }); }
    if (set === "nd6") { for (const ip of targets) out.push({ set, values: [v, v6Bytes(ip)] }); }
  }
  out.push({ set: "guarded", values: [v] });
  return out;
}

/**
 * The ops adding `spec`'s guard in `mode` (add) or removing it (delete). An
 * add puts every `guarded` element last, a delete first: within the one
 * atomic batch the order does not matter, but a reader sees the intent.
 */
export function guardOps(spec: GuardSpec, mode: GuardMode, op: "add" | "delete"): SetElementOp[] {
  const body: SetElementOp[] = [];
  const guarded: SetElementOp[] = [];
  for (const t of GUARD_TABLES[mode]) {
    for (const e of tableElements(t, spec)) {
      const o: SetElementOp = {
        op,
        ...guardRef(t, e.set),
        key: encodeKey(GUARD_SETS[e.set], e.values),
      };
      if (e.set === "guarded") {
        if (op === "add") {
          o.comment = commentOf(spec);
          // A present veth means stale elements of an earlier pod of that name: EEXIST says so.
          o.exclusive = true;
        }
        guarded.push(o);
      } else body.push(o);
    }
  }
  return op === "add" ? [...body, ...guarded] : [...guarded, ...body];
}

/** The host veth an element of a guard set belongs to (its first key field). */
export function hostVethOfKey(key: Uint8Array): string {
  return decodeKey(["ifname"], key.subarray(0, 16))[0] as string;
}

/** A readable text of an element of `set` (for CHECK's message). */
export function describeElement(set: GuardSet, key: Uint8Array): string {
  return decodeKey(GUARD_SETS[set], key).map((v) =>
    v instanceof Uint8Array ? decodeKey(["ipv6_addr"], v)[0] as string : String(v)
  ).join(" . ");
}
