/**
 * The real NetlinkHandle: one NETLINK_ROUTE socket created inside the target
 * netns and reused for every call, so a call is one send and one receive.
 * @module
 */

import {
  AF_BRIDGE,
  IFLA_IFNAME,
  NLM_F_ACK,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETNEIGH,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTM_SETLINK,
} from "./constants.ts";
import {
  afOf,
  decodeAddr,
  decodeFdb,
  decodeNeigh,
  encodeAddr,
  encodeDumpAddrs,
  encodeDumpNeigh,
  encodeFdb,
  encodeNeigh,
} from "./addr_codec.ts";
import { Errno, kernelError } from "./errno.ts";
import { LinkNotFoundError } from "./errors.ts";
import type { Libc } from "./libc.ts";
import {
  decodeLink,
  encodeDelLink,
  encodeDumpLinks,
  encodeGetLink,
  encodeHairpin,
  encodeNewBridge,
  encodeNewIfb,
  encodeNewVeth,
  encodeNewVxlan,
  encodeSetLink,
  flagChange,
  type LinkChange,
  PROMISC,
  UP,
} from "./link_codec.ts";
import { parseError } from "./message.ts";
import { inNetns, openNetnsFd } from "./netns.ts";
import { decodeRoute, encodeDumpRoutes, encodeRoute } from "./route_codec.ts";
import { type NetlinkSocket, openSocketIn, type RequestContext } from "./socket.ts";
import { readSysctl, writeSysctl } from "./sysctl.ts";
import type { Family } from "../../net/mod.ts";
import type {
  AddAddrOptions,
  Address,
  FdbEntry,
  Link,
  Neighbor,
  NetlinkHandle,
  Route,
  RouteFilter,
  VethSpec,
  VxlanSpec,
} from "./types.ts";

const ACK = NLM_F_REQUEST | NLM_F_ACK;
const CREATE = ACK | NLM_F_CREATE | NLM_F_EXCL;
const REPLACE = ACK | NLM_F_CREATE | NLM_F_REPLACE;
const DUMP = NLM_F_REQUEST | NLM_F_DUMP;

function linkCtx(action: string): RequestContext {
  return { action, subject: "link" };
}

function routeText(r: Route): string {
  return `${r.dst}${r.gateway ? ` via ${r.gateway}` : ""}${
    r.linkIndex !== undefined ? ` dev ${r.linkIndex}` : ""
  }${r.table !== undefined ? ` table ${r.table}` : ""}`;
}

/** A handle bound to one netns; create with FfiNetlink.open. */
export class FfiHandle implements NetlinkHandle {
  readonly netns: string;
  readonly #libc: Libc;
  readonly #sock: NetlinkSocket;
  #nsFd: number;
  #closed = false;

  /** Opens the socket in `netns` ("" = the caller's own). */
  constructor(libc: Libc, netns: string) {
    this.#libc = libc;
    this.netns = netns;
    const { sock, nsFd } = openSocketIn(libc, netns);
    this.#sock = sock;
    this.#nsFd = nsFd;
  }

  getLink(name: string): Link | undefined {
    if (name === "" || name.length > 15) return undefined;
    encodeGetLink(this.#sock.begin(RTM_GETLINK, NLM_F_REQUEST), { name });
    return this.#sock.get(linkCtx(`get link ${name}`), decodeLink, [Errno.ENODEV]);
  }

  getLinkByIndex(index: number): Link | undefined {
    encodeGetLink(this.#sock.begin(RTM_GETLINK, NLM_F_REQUEST), { index });
    return this.#sock.get(linkCtx(`get link ${index}`), decodeLink, [Errno.ENODEV]);
  }

  listLinks(): Link[] {
    encodeDumpLinks(this.#sock.begin(RTM_GETLINK, DUMP));
    return this.#sock.dump(linkCtx("list links"), decodeLink);
  }

  #created(name: string): Link {
    const link = this.getLink(name);
    if (!link) {
      throw new LinkNotFoundError(Errno.ENODEV, `Cannot find link ${name}: gone after creation`);
    }
    return link;
  }

  addBridge(opts: { name: string; mtu?: number; mac?: string }): Link {
    encodeNewBridge(this.#sock.begin(RTM_NEWLINK, CREATE), opts);
    this.#sock.ack(linkCtx(`add bridge ${opts.name}`));
    return this.#created(opts.name);
  }

  addVeth(spec: VethSpec): Link {
    const peerFd = openNetnsFd(this.#libc, spec.peerNetns);
    try {
      encodeNewVeth(this.#sock.begin(RTM_NEWLINK, CREATE), spec, peerFd);
      this.#sock.ack(
        linkCtx(`add veth ${spec.name} (peer ${spec.peerName} in ${spec.peerNetns})`),
      );
    } finally {
      this.#libc.symbols.close(peerFd);
    }
    return this.#created(spec.name);
  }

  addIfb(opts: { name: string; mtu?: number }): Link {
    encodeNewIfb(this.#sock.begin(RTM_NEWLINK, CREATE), opts);
    this.#sock.ack(linkCtx(`add ifb ${opts.name}`));
    return this.#created(opts.name);
  }

  addVxlan(spec: VxlanSpec): Link {
    encodeNewVxlan(this.#sock.begin(RTM_NEWLINK, CREATE), spec);
    this.#sock.ack(linkCtx(`add vxlan ${spec.name} (vni ${spec.vni})`));
    return this.#created(spec.name);
  }

  #set(index: number, change: LinkChange, what: string): void {
    encodeSetLink(this.#sock.begin(RTM_SETLINK, ACK), index, change);
    this.#sock.ack(linkCtx(`set ${what} of link ${index}`));
  }

  setLinkUp(index: number): void {
    this.#set(index, flagChange(UP, true), "up");
  }
  setLinkDown(index: number): void {
    this.#set(index, flagChange(UP, false), "down");
  }
  setMaster(index: number, masterIndex: number): void {
    this.#set(index, { master: masterIndex }, `master ${masterIndex}`);
  }
  setMtu(index: number, mtu: number): void {
    this.#set(index, { mtu }, `mtu ${mtu}`);
  }
  setMac(index: number, mac: string): void {
    this.#set(index, { mac }, `mac ${mac}`);
  }
  setPromisc(index: number, on: boolean): void {
    this.#set(index, flagChange(PROMISC, on), `promisc ${on ? "on" : "off"}`);
  }
  setHairpin(index: number, on: boolean): void {
    encodeHairpin(this.#sock.begin(RTM_SETLINK, ACK), index, on);
    this.#sock.ack(linkCtx(`set hairpin ${on ? "on" : "off"} of link ${index}`));
  }

  deleteLink(index: number): void {
    encodeDelLink(this.#sock.begin(RTM_DELLINK, ACK), index);
    this.#sock.ack(linkCtx(`delete link ${index}`));
  }

  /**
   * One RTM_DELLINK by name (no lookup first) on a socket of its own, so no
   * reply of another request on this handle can take its ACK, and its send on
   * a worker thread (libc `sendAsync`): the kernel handles the request inside
   * send(), and for a veth that includes the RCU barrier.
   */
  async deleteLinkByNameAsync(name: string): Promise<boolean> {
    if (this.#closed) throw new Error(`Cannot use netlink handle of ${this.netns}: closed`);
    if (name === "" || name.length > 15) return false;
    const ctx = linkCtx(`delete link ${name}`);
    const { sock, nsFd } = openSocketIn(this.#libc, this.netns);
    if (nsFd >= 0) this.#libc.symbols.close(nsFd);
    try {
      const b = sock.begin(RTM_DELLINK, ACK);
      b.reserve(16); // struct ifinfomsg, all zero: any family, index 0 = by name
      b.attrString(IFLA_IFNAME, name);
      const msg = b.finish().slice();
      const seq = new DataView(msg.buffer).getUint32(8, true);
      const sent = await this.#libc.symbols.sendAsync(sock.fd, msg, BigInt(msg.length), 0);
      if (Number(sent) < 0) {
        // errno stayed on the worker thread: redo it here, where errors are readable.
        const link = this.getLink(name);
        if (!link) return false;
        this.deleteLink(link.index);
        return true;
      }
      for (;;) {
        const n = sock.recvRaw();
        if (n < 0) throw kernelError({ ...ctx, errno: -n });
        for (const m of sock.messages(n)) {
          if (m.seq !== seq || m.type !== NLMSG_ERROR) continue;
          const err = parseError(m);
          if (err.errno === 0) return true;
          if (err.errno === Errno.ENODEV) return false;
          throw kernelError({ ...ctx, errno: err.errno, detail: err.message });
        }
      }
    } finally {
      sock.close();
    }
  }

  listAddrs(opts: { linkIndex?: number; family?: Family } = {}): Address[] {
    encodeDumpAddrs(this.#sock.begin(RTM_GETADDR, DUMP), opts.family);
    const all = this.#sock.dump({ action: "list addresses", subject: "addr" }, decodeAddr);
    return opts.linkIndex === undefined ? all : all.filter((a) => a.linkIndex === opts.linkIndex);
  }

  addAddr(addr: AddAddrOptions): void {
    encodeAddr(this.#sock.begin(RTM_NEWADDR, CREATE), addr);
    this.#sock.ack({
      action: `add address ${addr.cidr} to link ${addr.linkIndex}`,
      subject: "addr",
    });
  }

  deleteAddr(addr: { linkIndex: number; cidr: string }): void {
    encodeAddr(this.#sock.begin(RTM_DELADDR, ACK), { ...addr, remove: true });
    this.#sock.ack({
      action: `delete address ${addr.cidr} from link ${addr.linkIndex}`,
      subject: "addr",
    });
  }

  listRoutes(filter: RouteFilter = {}): Route[] {
    encodeDumpRoutes(this.#sock.begin(RTM_GETROUTE, DUMP), filter.family);
    const table = filter.table ?? RT_TABLE_MAIN;
    return this.#sock.dump({ action: "list routes", subject: "route" }, (m) => {
      const r = decodeRoute(m);
      if (!r) return undefined;
      if (filter.family !== undefined && r.family !== filter.family) return undefined;
      if (table !== RT_TABLE_UNSPEC && r.table !== table) return undefined;
      if (filter.protocol !== undefined && r.protocol !== filter.protocol) return undefined;
      if (filter.linkIndex !== undefined && r.linkIndex !== filter.linkIndex) return undefined;
      return r;
    });
  }

  addRoute(route: Route): void {
    encodeRoute(this.#sock.begin(RTM_NEWROUTE, CREATE), route, false);
    this.#sock.ack({ action: `add route ${routeText(route)}`, subject: "route" });
  }

  replaceRoute(route: Route): void {
    encodeRoute(this.#sock.begin(RTM_NEWROUTE, REPLACE), route, false);
    this.#sock.ack({ action: `replace route ${routeText(route)}`, subject: "route" });
  }

  deleteRoute(route: Route): void {
    encodeRoute(this.#sock.begin(RTM_DELROUTE, ACK), route, true);
    this.#sock.ack({ action: `delete route ${routeText(route)}`, subject: "route" });
  }

  listNeighbors(opts: { linkIndex?: number; family?: Family } = {}): Neighbor[] {
    encodeDumpNeigh(this.#sock.begin(RTM_GETNEIGH, DUMP), afOf(opts.family));
    const all = this.#sock.dump({ action: "list neighbours", subject: "neigh" }, decodeNeigh);
    return all.filter((n) =>
      (opts.linkIndex === undefined || n.linkIndex === opts.linkIndex) &&
      (opts.family === undefined || n.ip.includes(":") === (opts.family === 6))
    );
  }

  setNeighbor(neigh: Neighbor): void {
    encodeNeigh(this.#sock.begin(RTM_NEWNEIGH, REPLACE), neigh);
    this.#sock.ack({
      action: `set neighbour ${neigh.ip} on link ${neigh.linkIndex}`,
      subject: "neigh",
    });
  }

  deleteNeighbor(neigh: { linkIndex: number; ip: string }): void {
    encodeNeigh(this.#sock.begin(RTM_DELNEIGH, ACK), neigh);
    this.#sock.ack({
      action: `delete neighbour ${neigh.ip} on link ${neigh.linkIndex}`,
      subject: "neigh",
    });
  }

  listFdb(opts: { linkIndex?: number } = {}): FdbEntry[] {
    encodeDumpNeigh(this.#sock.begin(RTM_GETNEIGH, DUMP), AF_BRIDGE);
    const all = this.#sock.dump({ action: "list fdb", subject: "fdb" }, decodeFdb);
    return opts.linkIndex === undefined ? all : all.filter((e) => e.linkIndex === opts.linkIndex);
  }

  #fdb(type: number, flags: number, e: FdbEntry, verb: string): void {
    encodeFdb(this.#sock.begin(type, flags), e);
    const dst = e.dst ? ` dst ${e.dst}` : "";
    this.#sock.ack({ action: `${verb} fdb ${e.mac}${dst} on link ${e.linkIndex}`, subject: "fdb" });
  }

  setFdb(entry: FdbEntry): void {
    this.#fdb(RTM_NEWNEIGH, REPLACE, entry, "set");
  }
  appendFdb(entry: FdbEntry): void {
    this.#fdb(RTM_NEWNEIGH, ACK | NLM_F_CREATE | NLM_F_APPEND, entry, "append");
  }
  deleteFdb(entry: FdbEntry): void {
    this.#fdb(RTM_DELNEIGH, ACK, entry, "delete");
  }

  #inside<T>(fn: () => T): T {
    // A closed handle must never fall back to the caller's own netns.
    if (this.#closed) throw new Error(`Cannot use netlink handle of ${this.netns}: closed`);
    if (this.#nsFd < 0) return fn();
    return inNetns(this.#libc, { fd: this.#nsFd, path: this.netns }, fn);
  }

  getSysctl(key: string): string {
    return this.#inside(() => readSysctl(this.#libc, key));
  }

  setSysctl(key: string, value: string): void {
    this.#inside(() => writeSysctl(this.#libc, key, value));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock.close();
    if (this.#nsFd >= 0) this.#libc.symbols.close(this.#nsFd);
  }
}
