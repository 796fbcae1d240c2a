/**
 * Traffic control over rtnetlink in-process (the `Tc` of system/tc.ts): one
 * NETLINK_ROUTE socket, opened in its network namespace on first use, one
 * request and ACK per change (about 0.1 ms, where a `tc` process costs
 * 3-10 ms). The kernel ends up with what `tc` itself makes: the TBF numbers
 * come from tc_math.ts, the message layouts from tc_codec.ts.
 * @module
 */

import {
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RTM_GETLINK,
} from "./constants.ts";
import { Errno } from "./errno.ts";
import type { Libc } from "./libc.ts";
import { decodeLink, encodeGetLink } from "./link_codec.ts";
import { getI32 } from "./message.ts";
import { type NetlinkSocket, openSocketIn, type RequestContext } from "./socket.ts";
import {
  decodeFilter,
  decodeQdisc,
  encodeDumpIngressFilters,
  encodeDumpQdiscs,
  encodeIngress,
  encodeRedirect,
  encodeTbf,
  RTM_GETQDISC,
  RTM_GETTFILTER,
  RTM_NEWQDISC,
  RTM_NEWTFILTER,
} from "./tc_codec.ts";
import {
  DEFAULT_TICK_IN_USEC,
  formatHandle,
  qdiscHandle,
  tbfParams,
  TC_H_ROOT,
  tickInUsec,
  xmitSize,
} from "./tc_math.ts";
import { type Tc, TcError, type TcFilter, type TcOp, type TcQdisc } from "../tc.ts";
import type { Link } from "./types.ts";

const CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
const DUMP = NLM_F_REQUEST | NLM_F_DUMP;

/** Options of NetlinkTc. */
export interface NetlinkTcOptions {
  /** libc, asked for on first use (the process shares one with its FfiNetlink). */
  libc: () => Libc;
  /** Path of the network namespace; the caller's own when empty or absent. */
  netns?: string;
  /** Text of /proc/net/psched (tc's tick conversion); the file is read when absent. */
  psched?: () => string;
}

function readPsched(): string {
  return Deno.readTextFileSync("/proc/net/psched");
}

function ctx(action: string): RequestContext {
  return { action, subject: "tc" };
}

function tcError(e: unknown): TcError {
  if (e instanceof TcError) return e;
  return new TcError(e instanceof Error ? e.message : String(e), { cause: e });
}

/** Traffic control of one network namespace over rtnetlink. */
export class NetlinkTc implements Tc {
  readonly #opts: NetlinkTcOptions;
  #sock: NetlinkSocket | undefined;
  #tick: number | undefined;
  #closed = false;

  constructor(opts: NetlinkTcOptions) {
    this.#opts = opts;
  }

  #socket(): NetlinkSocket {
    if (this.#closed) throw new TcError("Cannot use tc: closed");
    if (this.#sock) return this.#sock;
    const libc = this.#opts.libc();
    const { sock, nsFd } = openSocketIn(libc, this.#opts.netns ?? "");
    if (nsFd >= 0) libc.symbols.close(nsFd);
    return this.#sock = sock;
  }

  /** psched ticks per microsecond, as tc reads them (once). */
  #tickInUsec(): number {
    if (this.#tick !== undefined) return this.#tick;
    let text = "";
    try {
      text = (this.#opts.psched ?? readPsched)();
    } catch { /* unreadable: every kernel since 2.6.31 says the same */ }
    return this.#tick = tickInUsec(text) ?? DEFAULT_TICK_IN_USEC;
  }

  #link(name: string): Link | undefined {
    if (name === "" || name.length > 15) return undefined;
    const sock = this.#socket();
    encodeGetLink(sock.begin(RTM_GETLINK, NLM_F_REQUEST), { name });
    return sock.get({ action: `get link ${name}`, subject: "link" }, decodeLink, [Errno.ENODEV]);
  }

  #index(name: string, cache: Map<string, number>): number {
    const known = cache.get(name);
    if (known !== undefined) return known;
    const l = this.#link(name);
    if (!l) throw new TcError(`Cannot find device "${name}"`);
    cache.set(name, l.index);
    return l.index;
  }

  #one(op: TcOp, cache: Map<string, number>): void {
    const sock = this.#socket();
    const dev = this.#index(op.dev, cache);
    switch (op.op) {
      case "tbf": {
        let p;
        try {
          p = tbfParams({ ...op, tick: this.#tickInUsec() });
        } catch (e) {
          throw new TcError(`Cannot add tbf qdisc to ${op.dev}: ${(e as Error).message}`);
        }
        encodeTbf(sock.begin(RTM_NEWQDISC, CREATE), dev, p);
        sock.ack(ctx(`add tbf qdisc to ${op.dev} (rate ${op.rateBits}bit burst ${op.burst})`));
        return;
      }
      case "ingress":
        encodeIngress(sock.begin(RTM_NEWQDISC, CREATE), dev);
        sock.ack(ctx(`add ingress qdisc to ${op.dev}`));
        return;
      case "redirect": {
        const to = this.#index(op.to, cache);
        encodeRedirect(sock.begin(RTM_NEWTFILTER, CREATE), dev, to);
        sock.ack(ctx(`add filter redirecting ${op.dev} ingress to ${op.to}`));
        return;
      }
    }
  }

  apply(ops: readonly TcOp[]): Promise<void> {
    try {
      const cache = new Map<string, number>();
      for (const op of ops) this.#one(op, cache);
    } catch (e) {
      return Promise.reject(tcError(e));
    }
    return Promise.resolve();
  }

  /** The qdiscs of `dev` in `tc -j qdisc show dev` shape. */
  qdiscsSync(dev: string): TcQdisc[] {
    const link = this.#link(dev);
    if (!link) return [];
    const sock = this.#socket();
    encodeDumpQdiscs(sock.begin(RTM_GETQDISC, DUMP));
    // The kernel dumps every device's qdiscs: look at the others' ifindex only.
    const all = sock.dump(
      ctx(`list qdiscs of ${dev}`),
      (m) => (m.body.length >= 8 && getI32(m.body, 4) === link.index ? decodeQdisc(m) : undefined),
    );
    return all.map((q) => {
      const out: TcQdisc = { kind: q.kind, handle: qdiscHandle(q.handle) };
      if (q.parent === TC_H_ROOT) out.root = true;
      else if (q.parent !== 0) out.parent = formatHandle(q.parent);
      if (q.tbf) {
        out.options = {
          rate: q.tbf.rate,
          burst: xmitSize(q.tbf.rate, q.tbf.buffer, this.#tickInUsec()),
        };
      }
      return out;
    });
  }

  /** The ingress filters of `dev` with a mirred redirect, targets by name. */
  ingressFiltersSync(dev: string): TcFilter[] {
    const link = this.#link(dev);
    if (!link) return [];
    const sock = this.#socket();
    encodeDumpIngressFilters(sock.begin(RTM_GETTFILTER, DUMP), link.index);
    const found = sock.dump(ctx(`list ingress filters of ${dev}`), decodeFilter);
    const names = new Map<number, string | undefined>();
    const out: TcFilter[] = [];
    for (const f of found) {
      const to = f.mirredTo[0];
      if (to === undefined) continue;
      if (!names.has(to)) names.set(to, this.#nameOf(to));
      const name = names.get(to);
      out.push(name === undefined ? { kind: f.kind } : { kind: f.kind, redirectTo: name });
    }
    return out;
  }

  #nameOf(index: number): string | undefined {
    const sock = this.#socket();
    encodeGetLink(sock.begin(RTM_GETLINK, NLM_F_REQUEST), { index });
    return sock.get({ action: `get link ${index}`, subject: "link" }, decodeLink, [Errno.ENODEV])
      ?.name;
  }

  qdiscs(dev: string): Promise<TcQdisc[]> {
    try {
      return Promise.resolve(this.qdiscsSync(dev));
    } catch (e) {
      return Promise.reject(tcError(e));
    }
  }

  ingressFilters(dev: string): Promise<TcFilter[]> {
    try {
      return Promise.resolve(this.ingressFiltersSync(dev));
    } catch (e) {
      return Promise.reject(tcError(e));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock?.close();
    this.#sock = undefined;
  }
}
