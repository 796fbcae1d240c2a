/**
 * The seam for nftables set elements: what hostgate changes per pod (the
 * guard's allowed addresses, hostPort maps) are elements of fixed sets, never
 * rules, so a pod costs one in-process netlink batch and no `nft` process and
 * no base-chain (un)registration. The tables and sets themselves are defined
 * elsewhere (`nft -f`), once.
 * @module
 */

import { describeErrno, NetlinkError } from "../netlink/mod.ts";
import { FAMILIES } from "./constants.ts";

/** An nftables family, as nft spells it. */
export type NftFamily = keyof typeof FAMILIES;

/** Where a set lives. */
export interface SetRef {
  family: NftFamily;
  table: string;
  set: string;
}

/** One element write of a batch. */
export interface SetElementOp extends SetRef {
  op: "add" | "delete";
  /** The key bytes exactly as the set stores them (see key.ts). */
  key: Uint8Array;
  /** The mapped value of a map's element (add only). */
  data?: Uint8Array;
  /** Shown by `nft list` as `comment "..."` (add only; printable ASCII, at most 128 bytes). */
  comment?: string;
  /** Add only: fail with EEXIST when the key is present (NLM_F_EXCL). */
  exclusive?: boolean;
}

/** One element as the kernel lists it. */
export interface SetElement {
  key: Uint8Array;
  data?: Uint8Array;
  comment?: string;
}

/**
 * Writes and reads set elements. `apply` is one transaction: every op
 * commits, or none does and it throws NftSetsError.
 */
export interface NftSets {
  /**
   * Applies `ops` atomically (one nfnetlink batch). No ops: no-op. At most
   * MAX_APPLY_OPS (every op's ACK must fit the socket's receive buffer);
   * more is refused (E2BIG) before anything is sent.
   */
  apply(ops: readonly SetElementOp[]): Promise<void>;
  /** Every element of the set; NftSetsError ENOENT when the table or set is missing. */
  list(ref: SetRef): Promise<SetElement[]>;
  /** The element with `key`, or undefined; NftSetsError ENOENT when the set is missing. */
  get(ref: SetRef, key: Uint8Array): Promise<SetElement | undefined>;
  /** True when the table exists (one request; e.g. to skip work for a table long gone). */
  hasTable(family: NftFamily, table: string): Promise<boolean>;
  /** Releases the socket; idempotent. */
  close(): void;
}

/** Most ops of one `apply`. */
export const MAX_APPLY_OPS = 1000;

/** errno values callers branch on. */
export const E2BIG = 7;
export const ENOENT = 2;
export const EEXIST = 17;

/** A batch or a listing the kernel (or the fake) refused. */
export class NftSetsError extends NetlinkError {
  /** The op the kernel blamed (by its extended ACK / sequence number), when known. */
  readonly op?: SetElementOp;
  /** Its index in the batch. */
  readonly index?: number;
  constructor(
    errno: number,
    message: string,
    blamed?: { op: SetElementOp; index: number },
    options?: ErrorOptions,
  ) {
    super(errno, message, options);
    this.name = "NftSetsError";
    if (blamed) {
      this.op = blamed.op;
      this.index = blamed.index;
    }
  }
}

/** `inet hostgate-guard guarded` */
export function refText(r: SetRef): string {
  return `${r.family} ${r.table} ${r.set}`;
}

/** "add element to set inet t s" / "delete element from set ...". */
export function opAction(op: SetElementOp): string {
  return op.op === "add"
    ? `add element to set ${refText(op)}`
    : `delete element from set ${refText(op)}`;
}

/** The error for a refused op (or a refused batch when `blamed` is unknown). */
export function setsError(
  o: {
    errno: number;
    action: string;
    detail?: string;
    blamed?: { op: SetElementOp; index: number };
  },
): NftSetsError {
  const msg = `Cannot ${o.action}: ${describeErrno(o.errno)}${o.detail ? `: ${o.detail}` : ""}`;
  return new NftSetsError(o.errno, msg, o.blamed);
}

/** True for an NftSetsError with `errno`. */
export function isSetsErrno(e: unknown, errno: number): e is NftSetsError {
  return e instanceof NftSetsError && e.errno === errno;
}

/** The error for a batch over MAX_APPLY_OPS. */
export function tooMany(n: number): NftSetsError {
  return new NftSetsError(
    E2BIG,
    `Cannot apply ${n} set element ops: more than ${MAX_APPLY_OPS} in one batch`,
  );
}
