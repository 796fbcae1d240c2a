/**
 * Conntrack over ctnetlink (NETLINK_NETFILTER, NFNL_SUBSYS_CTNETLINK),
 * in-process: the UDP flows of a hostPort are found by one dump of the
 * family's table, filtered by the kernel (CTA_FILTER; a kernel without it
 * gets a whole dump, matched here), and deleted by their original tuple,
 * one message each,
 * without spawning the `conntrack` CLI (~10 ms a run). The codec is pure and
 * unit tested; NetlinkConntrack opens its socket in the caller's network
 * namespace (the plugin runs in the node's) on first use.
 * @module
 */
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from "./netlink/constants.ts";
import { type Libc, openLibc } from "./netlink/libc.ts";
import { getBe16, getU8, type MessageBuilder, type NlMsg, parseAttrs } from "./netlink/message.ts";
import { NetlinkError } from "./netlink/errors.ts";
import { formatIp, parseIp } from "./netlink/ip.ts";
import { type NetlinkSocket, openSocketIn } from "./netlink/socket.ts";
import type { Conntrack, FlowFilter } from "./conntrack.ts";

const NETLINK_NETFILTER = 12;
/** nfnetlink subsystem of conntrack; message type = subsystem << 8 | IPCTNL_MSG_CT_*. */
const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_NEW = 0;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
/** enum ctattr_type */
const CTA_TUPLE_ORIG = 1;
const CTA_ZONE = 18;
const CTA_FILTER = 25;
/** enum ctattr_filter and the CTA_FILTER_FLAG() bits it carries. */
const CTA_FILTER_ORIG_FLAGS = 1;
const CTA_FILTER_REPLY_FLAGS = 2;
const CTA_FILTER_FLAG_IP_DST = 1 << 1;
const CTA_FILTER_FLAG_PROTO_NUM = 1 << 3;
const CTA_FILTER_FLAG_PROTO_DST_PORT = 1 << 5;
/** enum ctattr_tuple */
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
/** enum ctattr_ip */
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_IP_V6_SRC = 3;
const CTA_IP_V6_DST = 4;
/** enum ctattr_l4proto */
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const CTA_PROTO_DST_PORT = 3;
const AF_INET = 2;
const AF_INET6 = 10;
const ENOENT = 2;
const EINVAL = 22;
const EOPNOTSUPP = 95;

const PROTOS: Readonly<Record<FlowFilter["protocol"], number>> = { tcp: 6, udp: 17, sctp: 132 };

/** Message types of the dump request, its replies and the delete. */
export const CT_GET = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
export const CT_NEW = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
export const CT_DELETE = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
/** Flags of the dump request and of a delete. */
export const DUMP_FLAGS = NLM_F_REQUEST | NLM_F_DUMP;
export const DELETE_FLAGS = NLM_F_REQUEST | NLM_F_ACK;

/** The original-direction tuple of one tracked connection (what a delete names). */
export interface CtTuple {
  family: 4 | 6;
  /** IP protocol number. */
  proto: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** Conntrack zone (0 when absent). */
  zone: number;
}

function nfgen(b: MessageBuilder, family: 4 | 6): void {
  const at = b.reserve(4);
  b.setU8(at, family === 4 ? AF_INET : AF_INET6).setU8(at + 1, 0).setU8(at + 2, 0).setU8(
    at + 3,
    0,
  );
}

/**
 * Fills `b` (begun with CT_GET, DUMP_FLAGS) with a dump of one family's
 * table; with `f`, the kernel (5.10+) returns only flows whose original
 * tuple has its protocol, destination port and (when set) destination
 * address: CTA_TUPLE_ORIG carries the values, CTA_FILTER says which.
 */
export function encodeDump(b: MessageBuilder, family: 4 | 6, f?: FlowFilter): void {
  nfgen(b, family);
  if (!f) return;
  let flags = CTA_FILTER_FLAG_PROTO_NUM | CTA_FILTER_FLAG_PROTO_DST_PORT;
  b.nestStart(CTA_TUPLE_ORIG, true);
  if (f.origDst !== undefined) {
    flags |= CTA_FILTER_FLAG_IP_DST;
    b.nestStart(CTA_TUPLE_IP, true);
    b.attr(family === 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, parseIp(f.origDst).bytes);
    b.nestEnd();
  }
  b.nestStart(CTA_TUPLE_PROTO, true);
  b.attrU8(CTA_PROTO_NUM, PROTOS[f.protocol]);
  b.attrBe16(CTA_PROTO_DST_PORT, f.origDstPort);
  b.nestEnd();
  b.nestEnd();
  b.nestStart(CTA_FILTER, true);
  b.attrU32(CTA_FILTER_ORIG_FLAGS, flags);
  b.attrU32(CTA_FILTER_REPLY_FLAGS, 0);
  b.nestEnd();
}

/** Fills `b` (begun with CT_DELETE, DELETE_FLAGS) with the delete of the flow `t`. */
export function encodeDelete(b: MessageBuilder, t: CtTuple): void {
  nfgen(b, t.family);
  b.nestStart(CTA_TUPLE_ORIG, true);
  b.nestStart(CTA_TUPLE_IP, true);
  b.attr(t.family === 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, parseIp(t.src).bytes);
  b.attr(t.family === 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, parseIp(t.dst).bytes);
  b.nestEnd();
  b.nestStart(CTA_TUPLE_PROTO, true);
  b.attrU8(CTA_PROTO_NUM, t.proto);
  b.attrBe16(CTA_PROTO_SRC_PORT, t.sport);
  b.attrBe16(CTA_PROTO_DST_PORT, t.dport);
  b.nestEnd();
  b.nestEnd();
  if (t.zone !== 0) b.attrBe16(CTA_ZONE, t.zone);
}

/** The original tuple of a dump reply (CT_NEW), or undefined for other messages or odd ones. */
export function decodeTuple(m: NlMsg): CtTuple | undefined {
  if (m.type !== CT_NEW || m.body.length < 4) return undefined;
  const family = m.body[0] === AF_INET ? 4 : m.body[0] === AF_INET6 ? 6 : undefined;
  if (!family) return undefined;
  const attrs = parseAttrs(m.body, 4);
  const orig = attrs.get(CTA_TUPLE_ORIG);
  if (!orig) return undefined;
  const tuple = parseAttrs(orig);
  const ip = tuple.get(CTA_TUPLE_IP);
  const proto = tuple.get(CTA_TUPLE_PROTO);
  if (!ip || !proto) return undefined;
  const ips = parseAttrs(ip);
  const src = ips.get(family === 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC);
  const dst = ips.get(family === 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST);
  const p = parseAttrs(proto);
  const num = p.get(CTA_PROTO_NUM);
  const sport = p.get(CTA_PROTO_SRC_PORT);
  const dport = p.get(CTA_PROTO_DST_PORT);
  if (!src || !dst || !num || !sport || !dport) return undefined;
  const zone = attrs.get(CTA_ZONE);
  return {
    family,
    proto: getU8(num),
    src: formatIp(src),
    dst: formatIp(dst),
    sport: getBe16(sport),
    dport: getBe16(dport),
    zone: zone ? getBe16(zone) : 0,
  };
}

/** True when the flow's original destination is the filter's (protocol, port, address if set). */
export function flowMatches(t: CtTuple, f: FlowFilter): boolean {
  if (t.family !== f.family || t.proto !== PROTOS[f.protocol] || t.dport !== f.origDstPort) {
    return false;
  }
  return f.origDst === undefined || parseIp(f.origDst).bytes.join() === parseIp(t.dst).bytes.join();
}

/** Options of NetlinkConntrack. */
export interface NetlinkConntrackOptions {
  /** The process's libc, asked for on first use (shared with its other netlink sockets); else one is opened. */
  libc?: () => Libc;
  /** Path of the netns; the caller's own when absent or "". */
  netns?: string;
}

/** The real conntrack table over ctnetlink. Needs --allow-ffi and CAP_NET_ADMIN. */
export class NetlinkConntrack implements Conntrack {
  readonly #opts: NetlinkConntrackOptions;
  #sock: NetlinkSocket | undefined;
  /** False once the kernel refused a filtered dump (before 5.10): dump all, filter here. */
  #kernelFilter = true;
  /** Flows the dumps returned (for tests: the kernel's filter keeps this small). */
  dumped = 0;

  constructor(opts: NetlinkConntrackOptions = {}) {
    this.#opts = opts;
  }

  #socket(): NetlinkSocket {
    if (!this.#sock) {
      const libc = this.#opts.libc?.() ?? openLibc();
      const { sock, nsFd } = openSocketIn(libc, this.#opts.netns ?? "", {
        protocol: NETLINK_NETFILTER,
      });
      if (nsFd >= 0) libc.symbols.close(nsFd);
      this.#sock = sock;
    }
    return this.#sock;
  }

  deleteFlows(f: FlowFilter): Promise<void> {
    try {
      this.#delete(f);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #list(sock: NetlinkSocket, f: FlowFilter, what: string): CtTuple[] {
    encodeDump(sock.begin(CT_GET, DUMP_FLAGS), f.family, this.#kernelFilter ? f : undefined);
    // Matched here too: the kernel's filter only makes the dump small.
    return sock.dump({ action: `list conntrack flows of ${what}`, subject: "sysctl" }, (m) => {
      const t = decodeTuple(m);
      if (t) this.dumped++;
      return t && flowMatches(t, f) ? t : undefined;
    });
  }

  #delete(f: FlowFilter): void {
    const sock = this.#socket();
    const what = `${f.protocol} port ${f.origDstPort}`;
    let flows: CtTuple[];
    try {
      flows = this.#list(sock, f, what);
    } catch (e) {
      const old = e instanceof NetlinkError && (e.errno === EINVAL || e.errno === EOPNOTSUPP);
      if (!this.#kernelFilter || !old) throw e;
      this.#kernelFilter = false;
      flows = this.#list(sock, f, what);
    }
    for (const t of flows) {
      encodeDelete(sock.begin(CT_DELETE, DELETE_FLAGS), t);
      try {
        sock.ack({ action: `delete conntrack flow to ${t.dst} ${what}`, subject: "sysctl" });
      } catch (e) {
        // Gone meanwhile (timed out, deleted by another call): what we wanted.
        if (!(e instanceof NetlinkError && e.errno === ENOENT)) throw e;
      }
    }
  }

  /** Releases the socket; idempotent. */
  close(): void {
    this.#sock?.close();
    this.#sock = undefined;
  }
}
