/**
 * NftSets over Deno FFI: one NETLINK_NETFILTER socket, opened in the given
 * netns (switched into synchronously, like the rtnetlink handle) and kept for
 * the instance's life. A batch is one send; the kernel answers every message
 * within that call, so an ADD's elements cost a fraction of a millisecond.
 * Needs --allow-ffi and CAP_NET_ADMIN.
 * @module
 */

import { NetlinkError } from "../netlink/errors.ts";
import { type Libc, openLibc } from "../netlink/libc.ts";
import type { NlMsg } from "../netlink/message.ts";
import { type NetlinkSocket, openSocketIn, type RequestContext } from "../netlink/socket.ts";
import {
  decodeElements,
  encodeBatch,
  encodeGetBody,
  encodeListBody,
  GET_FLAGS,
  GETSETELEM,
  LIST_FLAGS,
  nftType,
} from "./codec.ts";
import { FAMILIES, NETLINK_NETFILTER, NFGENMSG_LEN } from "./constants.ts";
import {
  ENOENT,
  MAX_APPLY_OPS,
  type NftFamily,
  type NftSets,
  NftSetsError,
  opAction,
  refText,
  type SetElement,
  type SetElementOp,
  type SetRef,
  setsError,
  tooMany,
} from "./types.ts";

/** Receive buffer: room for the ACKs of MAX_APPLY_OPS (about 1 KiB each in the kernel). */
const RCVBUF = 2 * 1024 * 1024;

const NFT_MSG_GETTABLE = 1;
const NFTA_TABLE_NAME = 1;
const NFT_MSG_GETSET = 10;
const NFTA_SET_TABLE = 1;
const NFTA_SET_NAME = 2;

/** Options of FfiNftSets. */
export interface FfiNftSetsOptions {
  /** A libc opened elsewhere in the process (e.g. FfiNetlink's), else one is opened. */
  libc?: Libc;
  /** Path of the netns (e.g. /run/netns/x); the caller's own when absent or "". */
  netns?: string;
}

/** Runs `fn`, turning socket-level NetlinkErrors into NftSetsError (same errno and text). */
function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NftSetsError || !(e instanceof NetlinkError)) throw e;
    throw new NftSetsError(e.errno, e.message, undefined, { cause: e });
  }
}

function ctx(action: string): RequestContext {
  return { action, subject: "sysctl" };
}

/** The real NftSets. */
export class FfiNftSets implements NftSets {
  readonly #libc: Libc;
  readonly #netns: string;
  #sock: NetlinkSocket | undefined;
  #closed = false;

  constructor(opts: FfiNftSetsOptions = {}) {
    this.#libc = opts.libc ?? openLibc();
    this.#netns = opts.netns ?? "";
  }

  #socket(): NetlinkSocket {
    if (this.#closed) throw new Error("Cannot use nftables sets: closed");
    if (!this.#sock) {
      const { sock, nsFd } = openSocketIn(this.#libc, this.#netns, {
        protocol: NETLINK_NETFILTER,
        rcvbufForce: RCVBUF,
      });
      if (nsFd >= 0) this.#libc.symbols.close(nsFd);
      this.#sock = sock;
    }
    return this.#sock;
  }

  apply(ops: readonly SetElementOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    if (ops.length > MAX_APPLY_OPS) return Promise.reject(tooMany(ops.length));
    try {
      wrap(() => this.#apply(ops));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #apply(ops: readonly SetElementOp[]): void {
    const sock = this.#socket();
    const batch = encodeBatch(ops, sock.reserveSeqs(ops.length + 2));
    const what = ops.length === 1 ? opAction(ops[0]!) : `apply ${ops.length} set element ops`;
    const answers = sock.exchange(batch.bytes, {
      acked: batch.ops,
      also: [batch.begin, batch.end],
    }, ctx(what));
    // The first op the kernel refused is the one to blame; the batch was aborted as a whole.
    for (const [index, seq] of batch.ops.entries()) {
      const a = answers.get(seq);
      if (a && a.errno !== 0) {
        const op = ops[index]!;
        throw setsError({
          errno: a.errno,
          action: opAction(op),
          detail: a.message,
          blamed: { op, index },
        });
      }
    }
    for (const seq of [batch.begin, batch.end]) {
      const a = answers.get(seq);
      if (a && a.errno !== 0) throw setsError({ errno: a.errno, action: what, detail: a.message });
    }
  }

  list(ref: SetRef): Promise<SetElement[]> {
    try {
      return Promise.resolve(wrap(() => {
        const sock = this.#socket();
        encodeListBody(sock.begin(GETSETELEM, LIST_FLAGS), ref);
        return sock.dump(ctx(`list set ${refText(ref)}`), decodeElements).flat();
      }));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  get(ref: SetRef, key: Uint8Array): Promise<SetElement | undefined> {
    try {
      return Promise.resolve(wrap(() => this.#get(ref, key)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #get(ref: SetRef, key: Uint8Array): SetElement | undefined {
    const sock = this.#socket();
    encodeGetBody(sock.begin(GETSETELEM, GET_FLAGS), ref, key);
    const c = ctx(`get element of set ${refText(ref)}`);
    const found = sock.get(c, (m: NlMsg) => decodeElements(m)[0], [ENOENT]);
    if (found) return found;
    // ENOENT is both "no such element" and "no such table or set": ask for the set.
    const b = sock.begin(nftType(NFT_MSG_GETSET), GET_FLAGS);
    const at = b.reserve(NFGENMSG_LEN);
    b.setU8(at, FAMILIES[ref.family]);
    b.attrString(NFTA_SET_TABLE, ref.table).attrString(NFTA_SET_NAME, ref.set);
    sock.get(ctx(`get set ${refText(ref)}`), () => true);
    return undefined;
  }

  hasTable(family: NftFamily, table: string): Promise<boolean> {
    try {
      return Promise.resolve(wrap(() => {
        const sock = this.#socket();
        const b = sock.begin(nftType(NFT_MSG_GETTABLE), GET_FLAGS);
        const at = b.reserve(NFGENMSG_LEN);
        b.setU8(at, FAMILIES[family]);
        b.attrString(NFTA_TABLE_NAME, table);
        const found = sock.get(ctx(`get table ${family} ${table}`), () => true, [ENOENT]);
        return found === true;
      }));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock?.close();
    this.#sock = undefined;
  }
}
