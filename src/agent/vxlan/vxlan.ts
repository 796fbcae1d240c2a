/**
 * hostgate's VXLAN device and the tunnel entries on it, level-triggered like
 * the routes: the device is checked and fixed on every pass (not only when
 * an event arrives, so nothing depends on having seen the first one); the
 * neighbour and FDB entries are a pure diff of the desired peers against what
 * the kernel lists on that one device (entries elsewhere are never looked
 * at); and the apply is split so entries exist before a route points at them
 * and go only after it is gone.
 * @module
 */
import type { Vtep } from "../../datastore/mod.ts";
import { ExistsError, NotFoundError } from "../../system/netlink/errors.ts";
import type { FdbEntry, Link, Neighbor, NetlinkHandle } from "../../system/netlink/types.ts";
import { canonIp, familyOf } from "../../net/mod.ts";
import type { VxlanPeer } from "../reconcile/mod.ts";

/** The VTEP address sits on the device alone, as an IPv4 host address. */
const VTEP_PREFIX = 32;

/** What hostgate's vxlan device should look like. */
export interface VxlanDeviceSpec {
  name: string;
  vni: number;
  port: number;
  /** This node's IPv4 address: source of the encapsulated packets. */
  local: string;
  /** ifindex of the uplink, when known. */
  underlay?: number;
  mtu: number;
  /** This node's VTEP: the device's MAC and its only IPv4 address (/32). */
  vtep: Vtep;
}

/** Outcome of `ensureVxlanDevice`. */
export interface VxlanDeviceResult {
  link: Link;
  writes: number;
  /** Why the old device was deleted and created again, when it was. */
  recreated?: string;
}

/** Why an existing device cannot be kept (attributes the kernel will not change in place). */
export function deviceMismatch(link: Link, spec: VxlanDeviceSpec): string | undefined {
  const v = link.vxlan;
  if (!v) return "no vxlan attributes";
  if (v.vni !== spec.vni) return `vni ${v.vni} instead of ${spec.vni}`;
  if (v.port !== spec.port) return `port ${v.port} instead of ${spec.port}`;
  if (v.learning) return "learning is on";
  if ((v.local === undefined ? "" : canonIp(v.local)) !== canonIp(spec.local)) {
    return `local ${v.local ?? "unset"} instead of ${spec.local}`;
  }
  if (spec.underlay !== undefined && v.underlay !== spec.underlay) {
    return `underlay ${v.underlay ?? "unset"} instead of ${spec.underlay}`;
  }
  return undefined;
}

/**
 * Makes the device match `spec`: created when missing, recreated (same MAC)
 * when a fixed attribute is wrong, MAC, MTU, VTEP address and up state fixed
 * in place. Writes nothing when everything is right.
 */
export function ensureVxlanDevice(handle: NetlinkHandle, spec: VxlanDeviceSpec): VxlanDeviceResult {
  let writes = 0;
  let recreated: string | undefined;
  let link = handle.getLink(spec.name);
  if (link && link.kind !== "vxlan") {
    throw new Error(
      `Cannot use ${spec.name} as the vxlan device: it is a ${link.kind || "device"}`,
    );
  }
  if (link) {
    recreated = deviceMismatch(link, spec);
    if (recreated) {
      handle.deleteLink(link.index);
      writes++;
      link = undefined;
    }
  }
  if (!link) {
    link = handle.addVxlan({
      name: spec.name,
      vni: spec.vni,
      port: spec.port,
      local: spec.local,
      underlay: spec.underlay,
      mtu: spec.mtu,
      mac: spec.vtep.mac,
      learning: false,
    });
    writes++;
  }
  if (link.mac !== spec.vtep.mac) {
    handle.setMac(link.index, spec.vtep.mac);
    writes++;
  }
  if (link.mtu !== spec.mtu) {
    handle.setMtu(link.index, spec.mtu);
    writes++;
  }
  const want = `${canonIp(spec.vtep.ip)}/${VTEP_PREFIX}`;
  const v4 = handle.listAddrs({ linkIndex: link.index, family: 4 });
  for (const a of v4) {
    if (`${canonIp(a.cidr)}/${a.cidr.split("/")[1]}` === want) continue;
    handle.deleteAddr({ linkIndex: link.index, cidr: a.cidr });
    writes++;
  }
  if (!v4.some((a) => `${canonIp(a.cidr)}/${a.cidr.split("/")[1]}` === want)) {
    try {
      handle.addAddr({ linkIndex: link.index, cidr: want });
      writes++;
    } catch (e) {
      if (!(e instanceof ExistsError)) throw e;
    }
  }
  if (!link.up) {
    handle.setLinkUp(link.index);
    writes++;
  }
  return { link: handle.getLinkByIndex(link.index) ?? link, writes, recreated };
}

/**
 * The VTEP an existing device carries (its MAC and /32 IPv4 address), so a
 * restarted agent announces it in its first registration instead of
 * withdrawing it for a moment.
 */
export function vtepOfDevice(handle: NetlinkHandle, name: string): Vtep | undefined {
  const link = handle.getLink(name);
  if (!link || link.kind !== "vxlan") return undefined;
  const a = handle.listAddrs({ linkIndex: link.index, family: 4 })
    .find((x) => x.cidr.endsWith(`/${VTEP_PREFIX}`));
  return a ? { ip: canonIp(a.cidr), mac: link.mac } : undefined;
}

const OWN_NAME = /^hostgate\.\d+$/;

/**
 * Deletes hostgate's vxlan devices: `name`, and any vxlan device named
 * hostgate.<vni> (left by a run with another VNI). Routes, neighbour and FDB
 * entries on them go with them. Returns how many were deleted.
 */
export function removeVxlanDevices(handle: NetlinkHandle, name: string): number {
  let n = 0;
  for (const l of handle.listLinks()) {
    if (l.kind !== "vxlan" || (l.name !== name && !OWN_NAME.test(l.name))) continue;
    try {
      handle.deleteLink(l.index);
      n++;
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
  return n;
}

/** Neighbour and FDB entries on the vxlan device, as listed. */
export interface VxlanEntries {
  neighbors: Neighbor[];
  fdb: FdbEntry[];
}

/** Reads the IPv4 neighbours and the FDB of the device at `linkIndex` (nothing else). */
export function readVxlanEntries(handle: NetlinkHandle, linkIndex: number): VxlanEntries {
  return {
    neighbors: handle.listNeighbors({ linkIndex, family: 4 })
      .filter((n) => n.linkIndex === linkIndex && familyOf(n.ip) === 4),
    fdb: handle.listFdb({ linkIndex }).filter((e) => e.linkIndex === linkIndex),
  };
}

/** What to change on the device. */
export interface VxlanPlan {
  setNeighbors: Neighbor[];
  removeNeighbors: Neighbor[];
  setFdb: FdbEntry[];
  removeFdb: FdbEntry[];
}

/** True when applying the plan would write nothing. */
export function vxlanPlanIsEmpty(p: VxlanPlan): boolean {
  return p.setNeighbors.length + p.removeNeighbors.length + p.setFdb.length +
      p.removeFdb.length === 0;
}

const fdbKey = (mac: string, dst: string | undefined) =>
  `${mac.toLowerCase()}>${dst === undefined ? "" : canonIp(dst)}`;

/**
 * Diffs the desired peers against the device's entries: a permanent
 * neighbour VTEP IP -> VTEP MAC and an FDB entry VTEP MAC -> node IP per
 * peer. A wrong entry is replaced in place; with `allowDelete` false
 * (datastore not trusted) entries of unknown peers stay.
 */
export function planVxlan(
  desired: readonly VxlanPeer[],
  actual: VxlanEntries,
  opts: { linkIndex: number; allowDelete: boolean },
): VxlanPlan {
  const plan: VxlanPlan = { setNeighbors: [], removeNeighbors: [], setFdb: [], removeFdb: [] };
  const wantIps = new Set(desired.map((d) => canonIp(d.vtepIp)));
  const wantMacs = new Set(desired.map((d) => d.vtepMac.toLowerCase()));
  const wantFdb = new Set(desired.map((d) => fdbKey(d.vtepMac, d.nodeIp)));
  for (const d of desired) {
    const ip = canonIp(d.vtepIp);
    const mac = d.vtepMac.toLowerCase();
    const have = actual.neighbors.find((n) => canonIp(n.ip) === ip);
    if (!have || !have.permanent || have.mac.toLowerCase() !== mac) {
      plan.setNeighbors.push({ linkIndex: opts.linkIndex, ip, mac, permanent: true });
    }
    if (!actual.fdb.some((e) => fdbKey(e.mac, e.dst) === fdbKey(mac, d.nodeIp))) {
      plan.setFdb.push({ linkIndex: opts.linkIndex, mac, dst: canonIp(d.nodeIp) });
    }
  }
  for (const n of actual.neighbors) {
    if (!wantIps.has(canonIp(n.ip)) && opts.allowDelete) plan.removeNeighbors.push(n);
  }
  // A set replaces the first remote of its MAC in place (NLM_F_REPLACE), so that
  // one is not deleted; further wrong remotes of a wanted MAC go anyway, entries of
  // unknown MACs only when deleting is allowed.
  const replaced = new Set(plan.setFdb.map((e) => e.mac));
  for (const e of actual.fdb) {
    if (wantFdb.has(fdbKey(e.mac, e.dst))) continue;
    const mac = e.mac.toLowerCase();
    if (replaced.delete(mac)) continue;
    if (wantMacs.has(mac) || opts.allowDelete) plan.removeFdb.push(e);
  }
  return plan;
}

/** Counts of a finished apply step, and the errors met on the way (it keeps going). */
export interface VxlanApplyResult {
  neighbors: number;
  fdb: number;
  errors: Error[];
}

function attempt(res: VxlanApplyResult, fn: () => void, ignoreMissing = false): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (!(ignoreMissing && e instanceof NotFoundError)) res.errors.push(e as Error);
    return false;
  }
}

/** Writes the missing and wrong entries: FDB first, so a neighbour never points nowhere. */
export function applyVxlanSets(handle: NetlinkHandle, plan: VxlanPlan): VxlanApplyResult {
  const res: VxlanApplyResult = { neighbors: 0, fdb: 0, errors: [] };
  for (const e of plan.setFdb) if (attempt(res, () => handle.setFdb(e))) res.fdb++;
  for (const n of plan.setNeighbors) if (attempt(res, () => handle.setNeighbor(n))) res.neighbors++;
  return res;
}

/** Deletes stale entries (after the routes through them are gone); already gone is fine. */
export function applyVxlanRemovals(handle: NetlinkHandle, plan: VxlanPlan): VxlanApplyResult {
  const res: VxlanApplyResult = { neighbors: 0, fdb: 0, errors: [] };
  for (const n of plan.removeNeighbors) {
    if (attempt(res, () => handle.deleteNeighbor(n), true)) res.neighbors++;
  }
  for (const e of plan.removeFdb) {
    if (attempt(res, () => handle.deleteFdb(e), true)) res.fdb++;
  }
  return res;
}
