/**
 * One NETLINK_ROUTE socket with its reusable send/receive buffers and the
 * request/ACK and dump loops. A handle keeps one of these for its lifetime so
 * an operation costs one send and one or two receives, nothing more.
 * @module
 */

import {
  AF_NETLINK,
  MSG_DONTWAIT,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_ROUTE,
  NLM_F_DUMP_INTR,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
} from "./constants.ts";
import { Errno, kernelError, type Subject } from "./errno.ts";
import type { NetlinkError } from "./errors.ts";
import { errno, type Libc } from "./libc.ts";
import { inNetns, openNetnsFd } from "./netns.ts";
import {
  getI32,
  MessageBuilder,
  type NlError,
  type NlMsg,
  parseError,
  parseMessages,
} from "./message.ts";

/** What a request is, for the error message and the error class. */
export interface RequestContext {
  action: string;
  subject: Subject;
}

/** Options of NetlinkSocket.open. */
export interface SocketOptions {
  /** Multicast groups to join (RTMGRP_* mask); binds the socket when set. */
  groups?: number;
  /** SO_RCVBUF in bytes (monitors want room for bursts). */
  rcvbuf?: number;
  /** Netlink protocol: NETLINK_ROUTE (default) or e.g. NETLINK_NETFILTER (12). */
  protocol?: number;
  /**
   * SO_RCVBUFFORCE in bytes (CAP_NET_ADMIN; beyond net.core.rmem_max), for
   * a socket that takes many answers at once (a batch's ACKs); ignored when refused.
   */
  rcvbufForce?: number;
}

const RECV_SIZE = 64 * 1024;
const RECV_SIZE_N = BigInt(RECV_SIZE);
const DUMP_RETRIES = 5;

function sockopt(libc: Libc, fd: number, level: number, opt: number, value: number): void {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, value, true);
  libc.symbols.setsockopt(fd, level, opt, v, 4);
}

/** A netlink socket in the netns of the thread that opened it. */
export class NetlinkSocket {
  readonly fd: number;
  readonly #libc: Libc;
  readonly #rbuf = new Uint8Array(RECV_SIZE);
  readonly #builder = new MessageBuilder();
  #seq: number;
  #closed = false;

  private constructor(libc: Libc, fd: number) {
    this.#libc = libc;
    this.fd = fd;
    this.#seq = (Date.now() & 0x7fffffff) >>> 0;
  }

  /** Creates a socket in the calling thread's current netns. */
  static open(libc: Libc, opts: SocketOptions = {}): NetlinkSocket {
    const proto = opts.protocol ?? NETLINK_ROUTE;
    const fd = libc.symbols.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
    if (fd < 0) {
      throw kernelError({ errno: errno(libc), action: "open netlink socket", subject: "netns" });
    }
    sockopt(libc, fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
    sockopt(libc, fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
    if (opts.rcvbuf) sockopt(libc, fd, SOL_SOCKET, SO_RCVBUF, opts.rcvbuf);
    if (opts.rcvbufForce) sockopt(libc, fd, SOL_SOCKET, SO_RCVBUFFORCE, opts.rcvbufForce);
    if (opts.groups) {
      const sa = new Uint8Array(12);
      const v = new DataView(sa.buffer);
      v.setUint16(0, AF_NETLINK, true);
      v.setUint32(8, opts.groups, true);
      if (libc.symbols.bind(fd, sa, 12) !== 0) {
        const e = errno(libc);
        libc.symbols.close(fd);
        throw kernelError({ errno: e, action: "bind netlink socket", subject: "netns" });
      }
    }
    return new NetlinkSocket(libc, fd);
  }

  /** Starts a request in the shared builder with a fresh sequence number. */
  begin(type: number, flags: number): MessageBuilder {
    if (this.#closed) throw new Error("Cannot send netlink request: handle closed");
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#builder.begin(type, flags, this.#seq);
  }

  #send(msg: Uint8Array, ctx: RequestContext): void {
    for (;;) {
      const n = Number(this.#libc.symbols.send(this.fd, msg, BigInt(msg.length), 0));
      if (n >= 0) return;
      const e = errno(this.#libc);
      if (e !== Errno.EINTR) {
        throw kernelError({ errno: e, action: ctx.action, subject: ctx.subject });
      }
    }
  }

  /**
   * Receives one datagram into the shared buffer; returns its byte count, or
   * -errno. With `dontWait` an empty queue yields -EAGAIN instead of blocking.
   */
  recvRaw(dontWait = false): number {
    for (;;) {
      const n = Number(
        this.#libc.symbols.recv(this.fd, this.#rbuf, RECV_SIZE_N, dontWait ? MSG_DONTWAIT : 0),
      );
      if (n >= 0) return n;
      const e = errno(this.#libc);
      if (e !== Errno.EINTR) return -e;
    }
  }

  /** Views of the messages of the last `recvRaw` (valid until the next receive). */
  messages(n: number): NlMsg[] {
    return parseMessages(this.#rbuf.subarray(0, n));
  }

  #recv(ctx: RequestContext): NlMsg[] {
    const n = this.recvRaw();
    if (n < 0) throw kernelError({ errno: -n, action: ctx.action, subject: ctx.subject });
    return this.messages(n);
  }

  #fail(m: NlMsg, ctx: RequestContext): NetlinkError | undefined {
    const err = parseError(m);
    if (err.errno === 0) return undefined;
    return kernelError({ ...ctx, errno: err.errno, detail: err.message });
  }

  /** Sends the built request (with NLM_F_ACK) and waits for the kernel's ACK. */
  ack(ctx: RequestContext): void {
    const msg = this.#builder.finish();
    const seq = this.#seq;
    this.#send(msg, ctx);
    for (;;) {
      for (const m of this.#recv(ctx)) {
        if (m.seq !== seq || m.type !== NLMSG_ERROR) continue;
        const e = this.#fail(m, ctx);
        if (e) throw e;
        return;
      }
    }
  }

  /**
   * Sends a non-dump get and decodes its one reply; returns undefined when the
   * kernel answers with one of `missing` (e.g. ENODEV for an absent link).
   */
  get<T>(ctx: RequestContext, decode: (m: NlMsg) => T, missing: number[] = []): T | undefined {
    const msg = this.#builder.finish();
    const seq = this.#seq;
    this.#send(msg, ctx);
    for (;;) {
      for (const m of this.#recv(ctx)) {
        if (m.seq !== seq || m.type === NLMSG_NOOP) continue;
        if (m.type === NLMSG_ERROR) {
          const e = this.#fail(m, ctx);
          if (!e) continue;
          if (missing.includes(e.errno)) return undefined;
          throw e;
        }
        return decode(m);
      }
    }
  }

  /**
   * Sends the built dump request and decodes every reply; `decode` returns
   * undefined to skip one. Restarts when the kernel flags the dump as
   * interrupted by a concurrent change (NLM_F_DUMP_INTR).
   */
  dump<T>(ctx: RequestContext, decode: (m: NlMsg) => T | undefined): T[] {
    const msg = this.#builder.finish().slice();
    for (let attempt = 0;; attempt++) {
      const seq = this.#seq;
      new DataView(msg.buffer).setUint32(8, seq, true);
      this.#send(msg, ctx);
      const out: T[] = [];
      let interrupted = false;
      let done = false;
      while (!done) {
        for (const m of this.#recv(ctx)) {
          if (m.seq !== seq) continue;
          if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
          if (m.type === NLMSG_DONE) {
            const err = m.body.length >= 4 ? -getI32(m.body) : 0;
            if (err > 0) throw kernelError({ ...ctx, errno: err });
            done = true;
            break;
          }
          if (m.type === NLMSG_ERROR) {
            const e = this.#fail(m, ctx);
            if (e) throw e;
            continue;
          }
          if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN) continue;
          const v = decode(m);
          if (v !== undefined) out.push(v);
        }
      }
      if (!interrupted || attempt >= DUMP_RETRIES) return out;
      this.#seq = (this.#seq + 1) >>> 0;
    }
  }

  /**
   * Reserves `n` consecutive sequence numbers and returns the first, for a
   * caller that encodes several messages itself (a netfilter batch).
   */
  reserveSeqs(n: number): number {
    if (this.#closed) throw new Error("Cannot send netlink request: handle closed");
    const first = (this.#seq + 1) >>> 0;
    this.#seq = (this.#seq + n) >>> 0;
    return first;
  }

  /**
   * Sends a pre-encoded datagram of several messages (a netfilter batch) and
   * collects the NLMSG_ERROR answers (ACKs or errors) to the sequence numbers
   * of `acked`, plus errors for those of `also` (e.g. a batch header the
   * kernel blames for a refused commit). The kernel answers a batch within
   * the send call, so everything is queued (or was dropped on a full receive
   * buffer) once send returns: the answers are read without blocking, and
   * missing ones are an ENOBUFS error, never a hang. Leftovers of an earlier
   * exchange that failed midway are discarded first.
   */
  exchange(
    msg: Uint8Array,
    seqs: { acked: readonly number[]; also?: readonly number[] },
    ctx: RequestContext,
  ): Map<number, NlError> {
    this.drain();
    this.#send(msg, ctx);
    const want = new Set(seqs.acked);
    const known = new Set([...seqs.acked, ...(seqs.also ?? [])]);
    const out = new Map<number, NlError>();
    while (want.size > 0) {
      const n = this.recvRaw(true);
      if (n < 0) {
        if (n === -Errno.EAGAIN && [...out.values()].some((e) => e.errno !== 0)) return out;
        this.drain();
        throw kernelError({
          errno: n === -Errno.EAGAIN ? Errno.ENOBUFS : -n,
          action: ctx.action,
          subject: ctx.subject,
          detail: `${want.size} of ${seqs.acked.length} answers lost`,
        });
      }
      for (const m of this.messages(n)) {
        if (m.type !== NLMSG_ERROR || !known.has(m.seq)) continue;
        out.set(m.seq, parseError(m));
        want.delete(m.seq);
      }
    }
    return out;
  }

  /**
   * Discards every queued datagram without blocking (an overflow's ENOBUFS
   * is reported before the data still queued; emptying the queue also lets
   * the kernel deliver to this socket again).
   */
  drain(): void {
    for (let i = 0; i < 100_000; i++) {
      if (this.recvRaw(true) === -Errno.EAGAIN) return;
    }
  }

  /** Closes the socket; later requests throw. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#libc.symbols.close(this.fd);
  }
}

/** A socket plus the fd of the netns it lives in (-1 for the caller's own). */
export interface SocketInNetns {
  sock: NetlinkSocket;
  nsFd: number;
}

/**
 * Opens a socket inside the netns at `path` (the caller's own when empty):
 * switches the thread in, creates the socket, switches back. The netns fd is
 * returned open (for later sysctl switches); the caller closes it.
 */
export function openSocketIn(libc: Libc, path: string, opts: SocketOptions = {}): SocketInNetns {
  if (path === "") return { sock: NetlinkSocket.open(libc, opts), nsFd: -1 };
  const nsFd = openNetnsFd(libc, path);
  try {
    const sock = inNetns(libc, { fd: nsFd, path }, () => NetlinkSocket.open(libc, opts));
    return { sock, nsFd };
  } catch (e) {
    libc.symbols.close(nsFd);
    throw e;
  }
}
