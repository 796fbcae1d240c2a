/**
 * The pod's hostPort elements as in-process set element ops, and listed
 * elements decoded back: keys and data in the byte layout of the sets'
 * declared types (render.ts), protocols as names. Pure.
 * @module
 */
import type { PortProtocol } from "../../cni/mod.ts";
import {
  decodeKey,
  encodeKey,
  type KeyField,
  type SetElement,
  type SetElementOp,
  type SetRef,
} from "../../system/nftables/mod.ts";
import {
  PORT_SETS,
  type PortElement,
  PORTS_TABLE,
  type PortSetName,
  prefixSetOf,
  PROTO_NUMBERS,
  type SourcePrefix,
} from "./render.ts";

/** Key and data fields of each per-mapping set, as declared in render.ts. */
export const SET_FIELDS: Readonly<Record<PortSetName, { key: KeyField[]; data?: KeyField[] }>> = {
  [PORT_SETS.ip4]: {
    key: ["ipv4_addr", "inet_proto", "inet_service"],
    data: ["ipv4_addr", "inet_service"],
  },
  [PORT_SETS.any4]: { key: ["inet_proto", "inet_service"], data: ["ipv4_addr", "inet_service"] },
  [PORT_SETS.ip6]: {
    key: ["ipv6_addr", "inet_proto", "inet_service"],
    data: ["ipv6_addr", "inet_service"],
  },
  [PORT_SETS.any6]: { key: ["inet_proto", "inet_service"], data: ["ipv6_addr", "inet_service"] },
  [PORT_SETS.snat4]: { key: ["ipv4_addr", "inet_proto", "inet_service"] },
  [PORT_SETS.snat6]: { key: ["ipv6_addr", "inet_proto", "inet_service"] },
};

/** Where a per-mapping set lives. */
export function setRef(set: string): SetRef {
  return { family: PORTS_TABLE.family, table: PORTS_TABLE.name, set };
}

const PROTO_NAMES = new Map<number, PortProtocol>(
  (Object.entries(PROTO_NUMBERS) as [PortProtocol, number][]).map(([k, v]) => [v, k]),
);

function encodeValues(fields: readonly KeyField[], values: readonly (string | number)[]) {
  return encodeKey(
    fields,
    values.map((v, i) =>
      fields[i] === "inet_proto" && typeof v === "string" ? PROTO_NUMBERS[v as PortProtocol] : v
    ),
  );
}

function decodeValues(fields: readonly KeyField[], bytes: Uint8Array): (string | number)[] {
  return decodeKey(fields, bytes).map((v, i) => {
    if (fields[i] === "inet_proto") return PROTO_NAMES.get(v as number) ?? (v as number);
    return v as string | number;
  });
}

/** The key bytes of `e`. */
export function keyBytes(e: Pick<PortElement, "set" | "key">): Uint8Array {
  return encodeValues(SET_FIELDS[e.set].key, e.key);
}

/**
 * The add op of `e`: map elements exclusive (NLM_F_EXCL) when asked, so a
 * hostPort another pod holds fails the batch with EEXIST; set elements
 * never (their key holds the pod's own address).
 */
export function addOp(e: PortElement, opts: { exclusive: boolean }): SetElementOp {
  const f = SET_FIELDS[e.set];
  const op: SetElementOp = {
    op: "add",
    ...setRef(e.set),
    key: keyBytes(e),
    comment: e.comment,
  };
  if (f.data && e.data) {
    op.data = encodeValues(f.data, e.data);
    if (opts.exclusive) op.exclusive = true;
  }
  return op;
}

/** The delete op of `e`. */
export function deleteOp(e: PortElement): SetElementOp {
  return { op: "delete", ...setRef(e.set), key: keyBytes(e) };
}

/**
 * The ops removing `e` only when it is this pod's: the element is added
 * first (a no-op when present with the same target; EBUSY when another pod
 * holds the key with another target, which refuses the batch instead of
 * removing someone else's mapping), then deleted, so a missing element is
 * no error either.
 */
export function removeOps(e: PortElement): SetElementOp[] {
  return [addOp(e, { exclusive: false }), deleteOp(e)];
}

/** A listed element of `set` decoded, or undefined when its bytes do not fit the set's types. */
export function decodeElement(set: PortSetName, el: SetElement): PortElement | undefined {
  const f = SET_FIELDS[set];
  try {
    const out: PortElement = {
      set,
      key: decodeValues(f.key, el.key),
      comment: el.comment ?? "",
    };
    if (f.data && el.data) out.data = decodeValues(f.data, el.data) as [string, number];
    return out;
  } catch {
    return undefined;
  }
}

/** The key bytes `get` asks for to learn whether a source prefix's first or last address is in. */
export function prefixProbes(p: SourcePrefix): { ref: SetRef; keys: Uint8Array[] } {
  const field: KeyField = p.family === 4 ? "ipv4_addr" : "ipv6_addr";
  return {
    ref: setRef(prefixSetOf(p.family)),
    keys: [encodeKey([field], [p.first]), encodeKey([field], [p.last])],
  };
}
