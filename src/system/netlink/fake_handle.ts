/**
 * A NetlinkHandle over the fake kernel. Every call is logged and may be made
 * to fail (FakeNetlink.failNext / failWhen) before it has any effect.
 * @module
 */

import { Errno, kernelError } from "./errno.ts";
import * as routes from "./fake_routes.ts";
import { needLink } from "./fake_routes.ts";
import type { FakeLink, FakeNs, FakeWorld } from "./fake_world.ts";
import { formatIp, formatMac, parseIp, parseMac } from "./ip.ts";
import { fakeGetSysctl, fakeSetSysctl } from "./fake_sysctl.ts";
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

function copyLink(l: FakeLink): Link {
  const { peer: _peer, mtuByUser: _byUser, ...rest } = l;
  return structuredClone(rest);
}

/** br_mtu_auto_adjust: a bridge follows its smallest port, 1500 without ports. */
function adjustBridgeMtu(ns: FakeNs, bridge: number | undefined): void {
  const br = bridge === undefined ? undefined : ns.links.get(bridge);
  if (!br || br.kind !== "bridge" || br.mtuByUser) return;
  const ports = [...ns.links.values()].filter((l) => l.master === bridge).map((l) => l.mtu);
  br.mtu = ports.length ? Math.min(...ports) : 1500;
}

/** Removes a link and everything hanging off it; a veth takes its peer along. */
export function removeLink(world: FakeWorld, netns: string, index: number): void {
  const ns = world.namespaces.get(netns);
  const link = ns?.links.get(index);
  if (!ns || !link) return;
  ns.links.delete(index);
  adjustBridgeMtu(ns, link.master);
  for (const l of ns.links.values()) {
    if (l.master === index) {
      delete l.master;
      delete l.hairpin;
    }
  }
  ns.addrs = ns.addrs.filter((a) => a.linkIndex !== index);
  routes.dropLinkRoutes(ns, index);
  ns.neighbors = ns.neighbors.filter((n) => n.linkIndex !== index);
  ns.fdb = ns.fdb.filter((e) => e.linkIndex !== index);
  for (const key of [...ns.sysctls.keys()]) {
    if (key.split("/")[3] === link.name) ns.sysctls.delete(key);
  }
  if (link.peer) removeLink(world, link.peer.netns, link.peer.index);
}

/** The fake's handle for one netns. */
export class FakeHandle implements NetlinkHandle {
  readonly netns: string;
  readonly #world: FakeWorld;
  #closed = false;

  constructor(world: FakeWorld, netns: string) {
    this.#world = world;
    this.netns = netns;
    world.ns(netns);
  }

  /** Logs + faults, then the live state of this netns. */
  #op(op: string, ...args: unknown[]): FakeNs {
    this.#world.call(op, this.netns, args);
    if (this.#closed) throw new Error(`Cannot use netlink handle of ${this.netns}: closed`);
    return this.#world.ns(this.netns, op);
  }

  #emit(changes: routes.Changes): void {
    for (const ev of changes) this.#world.emit(this.netns, ev);
  }

  getLink(name: string): Link | undefined {
    const ns = this.#op("getLink", name);
    const l = [...ns.links.values()].find((x) => x.name === name);
    return l && copyLink(l);
  }

  getLinkByIndex(index: number): Link | undefined {
    const l = this.#op("getLinkByIndex", index).links.get(index);
    return l && copyLink(l);
  }

  listLinks(): Link[] {
    return [...this.#op("listLinks").links.values()].map(copyLink);
  }

  #create(
    ns: FakeNs,
    o: { name: string; kind: string; mtu?: number; mac?: string },
    action: string,
  ) {
    if (o.name === "" || o.name.length > 15 || /[\s/:]/.test(o.name)) {
      throw kernelError({ errno: Errno.EINVAL, action, subject: "link" });
    }
    if ([...ns.links.values()].some((l) => l.name === o.name)) {
      throw kernelError({ errno: Errno.EEXIST, action, subject: "link" });
    }
    const link: FakeLink = {
      index: ns.nextIndex++,
      name: o.name,
      kind: o.kind,
      mtu: o.mtu ?? 1500,
      mac: o.mac ? formatMac(parseMac(o.mac)) : this.#world.nextMac(),
      up: false,
      promisc: false,
    };
    ns.links.set(link.index, link);
    return link;
  }

  addBridge(opts: { name: string; mtu?: number; mac?: string }): Link {
    const ns = this.#op("addBridge", opts);
    return copyLink(this.#create(ns, { ...opts, kind: "bridge" }, `add bridge ${opts.name}`));
  }

  addVeth(spec: VethSpec): Link {
    const ns = this.#op("addVeth", spec);
    const action = `add veth ${spec.name} (peer ${spec.peerName} in ${spec.peerNetns})`;
    const peerNs = this.#world.ns(spec.peerNetns, `open netns ${spec.peerNetns}`);
    const taken = (n: FakeNs, name: string) => [...n.links.values()].some((l) => l.name === name);
    if (
      taken(ns, spec.name) || taken(peerNs, spec.peerName) ||
      spec.name === spec.peerName && ns === peerNs
    ) {
      throw kernelError({ errno: Errno.EEXIST, action, subject: "link" });
    }
    const host = this.#create(ns, { name: spec.name, kind: "veth", mtu: spec.mtu }, action);
    const peer = this.#create(
      peerNs,
      { name: spec.peerName, kind: "veth", mtu: spec.mtu, mac: spec.peerMac },
      action,
    );
    host.peer = { netns: spec.peerNetns, index: peer.index };
    host.peerIndex = peer.index;
    peer.peer = { netns: this.netns, index: host.index };
    peer.peerIndex = host.index;
    return copyLink(host);
  }

  addIfb(opts: { name: string; mtu?: number }): Link {
    const ns = this.#op("addIfb", opts);
    return copyLink(this.#create(ns, { ...opts, kind: "ifb" }, `add ifb ${opts.name}`));
  }

  addVxlan(spec: VxlanSpec): Link {
    const ns = this.#op("addVxlan", spec);
    const action = `add vxlan ${spec.name} (vni ${spec.vni})`;
    if (spec.vni < 0 || spec.vni >= 1 << 24) {
      throw kernelError({ errno: Errno.ERANGE, action, subject: "link" });
    }
    const lower = spec.underlay === undefined ? undefined : needLink(ns, spec.underlay, action);
    const local = spec.local === undefined ? undefined : parseIp(spec.local);
    const clash = [...ns.links.values()].some((l) =>
      l.vxlan?.vni === spec.vni && l.vxlan.port === spec.port
    );
    if (clash) throw kernelError({ errno: Errno.EEXIST, action, subject: "link" });
    // Without an MTU the kernel fits the device into its underlay (50/70 bytes of headers).
    const mtu = spec.mtu ?? (lower ? lower.mtu - (local?.family === 6 ? 70 : 50) : undefined);
    const link = this.#create(ns, { ...spec, mtu, kind: "vxlan" }, action);
    link.vxlan = { vni: spec.vni, port: spec.port, learning: spec.learning !== false };
    if (local) link.vxlan.local = formatIp(local.bytes);
    if (spec.underlay !== undefined) link.vxlan.underlay = spec.underlay;
    return copyLink(link);
  }

  #link(op: string, index: number, what: string, ...rest: unknown[]): [FakeNs, FakeLink, string] {
    const ns = this.#op(op, index, ...rest);
    const action = `set ${what} of link ${index}`;
    return [ns, needLink(ns, index, action), action];
  }

  setLinkUp(index: number): void {
    const [ns, link] = this.#link("setLinkUp", index, "up");
    if (link.up) return;
    link.up = true;
    this.#emit(routes.addPrefixRoutes(ns, index));
  }

  setLinkDown(index: number): void {
    const [ns, link] = this.#link("setLinkDown", index, "down");
    link.up = false;
    // As the kernel: routes through the link go, IPv6 addresses are flushed
    // (keep_addr_on_down=0) and so are its neighbour entries, permanent ones too.
    routes.dropLinkRoutes(ns, index);
    ns.addrs = ns.addrs.filter((a) => a.linkIndex !== index || a.family === 4);
    ns.neighbors = ns.neighbors.filter((n) => n.linkIndex !== index);
  }

  setMaster(index: number, masterIndex: number): void {
    const [ns, link, action] = this.#link("setMaster", index, `master ${masterIndex}`, masterIndex);
    if (link.master === masterIndex) return;
    // Like do_set_master: leave the old master first, then look up the new one.
    const old = link.master;
    delete link.master;
    delete link.hairpin;
    adjustBridgeMtu(ns, old);
    if (masterIndex === 0) return;
    const master = ns.links.get(masterIndex);
    if (!master || masterIndex === index) {
      throw kernelError({ errno: Errno.EINVAL, action, subject: "link" });
    }
    if (master.kind !== "bridge") {
      throw kernelError({ errno: Errno.EOPNOTSUPP, action, subject: "link" });
    }
    link.master = masterIndex;
    link.hairpin = false;
    adjustBridgeMtu(ns, masterIndex);
  }

  setMtu(index: number, mtu: number): void {
    const [ns, link, action] = this.#link("setMtu", index, `mtu ${mtu}`, mtu);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw kernelError({ errno: Errno.EINVAL, action, subject: "link" });
    }
    link.mtu = mtu;
    if (link.kind === "bridge") link.mtuByUser = true;
    adjustBridgeMtu(ns, link.master);
  }

  setMac(index: number, mac: string): void {
    const [, link] = this.#link("setMac", index, `mac ${mac}`, mac);
    link.mac = formatMac(parseMac(mac));
  }

  setHairpin(index: number, on: boolean): void {
    const [ns, link, action] = this.#link("setHairpin", index, `hairpin ${on}`, on);
    if (link.master === undefined || ns.links.get(link.master)?.kind !== "bridge") {
      throw kernelError({ errno: Errno.EOPNOTSUPP, action, subject: "link" });
    }
    link.hairpin = on;
  }

  setPromisc(index: number, on: boolean): void {
    const [, link] = this.#link("setPromisc", index, `promisc ${on}`, on);
    link.promisc = on;
  }

  deleteLink(index: number): void {
    const ns = this.#op("deleteLink", index);
    needLink(ns, index, `delete link ${index}`);
    removeLink(this.#world, this.netns, index);
  }

  listAddrs(opts: { linkIndex?: number; family?: Family } = {}): Address[] {
    return structuredClone(
      this.#op("listAddrs", opts).addrs.filter((a) =>
        (opts.linkIndex === undefined || a.linkIndex === opts.linkIndex) &&
        (opts.family === undefined || a.family === opts.family)
      ),
    );
  }

  addAddr(addr: AddAddrOptions): void {
    this.#emit(routes.addAddr(this.#op("addAddr", addr), addr));
  }

  deleteAddr(addr: { linkIndex: number; cidr: string }): void {
    this.#emit(routes.deleteAddr(this.#op("deleteAddr", addr), addr));
  }

  listRoutes(filter: RouteFilter = {}): Route[] {
    return structuredClone(routes.filterRoutes(this.#op("listRoutes", filter).routes, filter));
  }

  addRoute(route: Route): void {
    this.#emit(routes.addRoute(this.#op("addRoute", route), route, false));
  }

  replaceRoute(route: Route): void {
    this.#emit(routes.addRoute(this.#op("replaceRoute", route), route, true));
  }

  deleteRoute(route: Route): void {
    this.#emit(routes.deleteRoute(this.#op("deleteRoute", route), route));
  }

  listNeighbors(opts: { linkIndex?: number; family?: Family } = {}): Neighbor[] {
    return structuredClone(
      this.#op("listNeighbors", opts).neighbors.filter((n) =>
        (opts.linkIndex === undefined || n.linkIndex === opts.linkIndex) &&
        (opts.family === undefined || n.ip.includes(":") === (opts.family === 6))
      ),
    );
  }

  setNeighbor(neigh: Neighbor): void {
    const ns = this.#op("setNeighbor", neigh);
    needLink(ns, neigh.linkIndex, `set neighbour ${neigh.ip} on link ${neigh.linkIndex}`);
    const entry: Neighbor = {
      linkIndex: neigh.linkIndex,
      ip: formatIp(parseIp(neigh.ip).bytes),
      mac: formatMac(parseMac(neigh.mac)),
      permanent: neigh.permanent,
    };
    const i = ns.neighbors.findIndex((n) => n.linkIndex === entry.linkIndex && n.ip === entry.ip);
    if (i >= 0) ns.neighbors[i] = entry;
    else ns.neighbors.push(entry);
  }

  deleteNeighbor(neigh: { linkIndex: number; ip: string }): void {
    const ns = this.#op("deleteNeighbor", neigh);
    const action = `delete neighbour ${neigh.ip} on link ${neigh.linkIndex}`;
    needLink(ns, neigh.linkIndex, action);
    const ip = formatIp(parseIp(neigh.ip).bytes);
    const i = ns.neighbors.findIndex((n) => n.linkIndex === neigh.linkIndex && n.ip === ip);
    if (i < 0) throw kernelError({ errno: Errno.ENOENT, action, subject: "neigh" });
    ns.neighbors.splice(i, 1);
  }

  listFdb(opts: { linkIndex?: number } = {}): FdbEntry[] {
    return structuredClone(
      this.#op("listFdb", opts).fdb.filter((e) =>
        opts.linkIndex === undefined || e.linkIndex === opts.linkIndex
      ),
    );
  }

  #fdbEntry(ns: FakeNs, e: FdbEntry, verb: string): [FdbEntry, string] {
    const action = `${verb} fdb ${e.mac}${e.dst ? ` dst ${e.dst}` : ""} on link ${e.linkIndex}`;
    needLink(ns, e.linkIndex, action);
    const out: FdbEntry = { linkIndex: e.linkIndex, mac: formatMac(parseMac(e.mac)) };
    if (e.dst !== undefined) out.dst = formatIp(parseIp(e.dst).bytes);
    return [out, action];
  }

  setFdb(entry: FdbEntry): void {
    const ns = this.#op("setFdb", entry);
    const [e] = this.#fdbEntry(ns, entry, "set");
    const i = ns.fdb.findIndex((x) => x.linkIndex === e.linkIndex && x.mac === e.mac);
    if (i >= 0) ns.fdb[i] = e;
    else ns.fdb.push(e);
  }

  appendFdb(entry: FdbEntry): void {
    const ns = this.#op("appendFdb", entry);
    const [e] = this.#fdbEntry(ns, entry, "append");
    const same = ns.fdb.some((x) =>
      x.linkIndex === e.linkIndex && x.mac === e.mac && x.dst === e.dst
    );
    if (!same) ns.fdb.push(e);
  }

  deleteFdb(entry: FdbEntry): void {
    const ns = this.#op("deleteFdb", entry);
    const [e, action] = this.#fdbEntry(ns, entry, "delete");
    const match = (x: FdbEntry) =>
      x.linkIndex === e.linkIndex && x.mac === e.mac && (e.dst === undefined || x.dst === e.dst);
    if (!ns.fdb.some(match)) throw kernelError({ errno: Errno.ENOENT, action, subject: "fdb" });
    ns.fdb = ns.fdb.filter((x) => !match(x));
  }

  getSysctl(key: string): string {
    return fakeGetSysctl(this.#op("getSysctl", key), key);
  }

  setSysctl(key: string, value: string): void {
    fakeSetSysctl(this.#op("setSysctl", key, value), key, value);
  }

  close(): void {
    this.#world.call("close", this.netns, []);
    this.#closed = true;
  }
}
