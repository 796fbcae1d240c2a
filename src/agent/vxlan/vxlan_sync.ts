/**
 * The overlay's part of a reconcile pass: the device step (ensure it for
 * vxlan and auto, remove it for host-gw) and the entries step (diff and
 * apply neighbour and FDB entries in two phases around the route sync).
 * Kept apart from reconcile.ts so the pass reads as a list of steps.
 * @module
 */
import type { Vtep } from "../../datastore/mod.ts";
import type { Link, NetlinkHandle } from "../../system/netlink/types.ts";
import { familyOf } from "../../net/mod.ts";
import type { AgentConfig } from "../cli/mod.ts";
import type { DesiredState, Uplink } from "../reconcile/mod.ts";
import { type Logger, M, type Metrics } from "../observe/mod.ts";
import { DEFAULT_UPLINK_MTU, pickVtepMac, usesVxlan, vtepFor, VXLAN_OVERHEAD } from "./vtep.ts";
import {
  applyVxlanRemovals,
  applyVxlanSets,
  ensureVxlanDevice,
  planVxlan,
  readVxlanEntries,
  removeVxlanDevices,
  vtepOfDevice,
  type VxlanApplyResult,
  type VxlanPlan,
} from "./vxlan.ts";

/** The config fields the overlay steps use. */
export type VxlanConfig = Pick<AgentConfig, "backend" | "vxlanDevice" | "vxlanVni" | "vxlanPort">;

/** What the overlay steps are given. */
export interface VxlanSyncDeps {
  config: VxlanConfig;
  handle: NetlinkHandle;
  log: Logger;
  metrics: Metrics;
}

/** Outcome of the device step. */
export interface VxlanDeviceStep {
  /** The device, when the backend uses one and it is in place. */
  link?: Link;
  /** This node's VTEP as the device carries it. */
  vtep?: Vtep;
  writes: number;
}

/**
 * Ensures hostgate's vxlan device (vxlan, auto) or deletes it (host-gw).
 * Nothing to do before this node has an IPv4 pod subnet: the VTEP address
 * is that subnet's network address. The MAC is the device's own when it
 * exists, else the one this agent announced, else a new random one
 * (`randomMac`, injectable for tests).
 */
export function syncVxlanDevice(
  d: VxlanSyncDeps,
  o: {
    uplink?: Uplink;
    selfPodCidrs: readonly string[];
    announcedMac?: string;
    randomMac?: () => string;
  },
): VxlanDeviceStep {
  const { config: cfg, log, metrics } = d;
  if (!usesVxlan(cfg.backend)) {
    const n = removeVxlanDevices(d.handle, cfg.vxlanDevice);
    if (n > 0) log.info("vxlan device removed", { backend: cfg.backend, count: n });
    return { writes: n };
  }
  const mac = pickVtepMac({
    device: vtepOfDevice(d.handle, cfg.vxlanDevice)?.mac,
    announced: o.announcedMac,
    ...(o.randomMac ? { random: o.randomMac } : {}),
  });
  const vtep = vtepFor(o.selfPodCidrs, mac);
  if (!vtep) return { writes: 0 };
  const local = o.uplink?.nodeIps.find((ip) => familyOf(ip) === 4);
  if (local === undefined) {
    throw new Error(`Cannot create ${cfg.vxlanDevice}: this node has no IPv4 node address`);
  }
  const res = ensureVxlanDevice(d.handle, {
    name: cfg.vxlanDevice,
    vni: cfg.vxlanVni,
    port: cfg.vxlanPort,
    local,
    underlay: o.uplink?.link?.index,
    mtu: (o.uplink?.link?.mtu || DEFAULT_UPLINK_MTU) - VXLAN_OVERHEAD,
    vtep,
  });
  if (res.writes > 0) {
    metrics.inc(M.vxlanWrites, { kind: "device", op: "set" }, res.writes);
    log.info(res.recreated ? "vxlan device recreated" : "vxlan device set up", {
      device: cfg.vxlanDevice,
      vni: cfg.vxlanVni,
      port: cfg.vxlanPort,
      local,
      vtep: `${vtep.ip} ${vtep.mac}`,
      ...(res.recreated ? { why: res.recreated } : {}),
    });
  }
  return { link: res.link, vtep, writes: res.writes };
}

/** The entries step, split around the route sync. */
export interface VxlanEntriesStep {
  plan: VxlanPlan;
  /** Writes missing and wrong entries; call before the routes. */
  sets(): VxlanApplyResult;
  /** Deletes stale entries; call after the routes. */
  removals(): VxlanApplyResult;
}

/** Reads the device's entries and plans them against the desired peers. */
export function planVxlanEntries(
  d: VxlanSyncDeps,
  o: { link: Link; desired: DesiredState; allowDelete: boolean },
): VxlanEntriesStep {
  const plan = planVxlan(o.desired.vxlan, readVxlanEntries(d.handle, o.link.index), {
    linkIndex: o.link.index,
    allowDelete: o.allowDelete,
  });
  d.metrics.set(M.vxlanPeers, o.desired.vxlan.length);
  const count = (op: string, r: VxlanApplyResult) => {
    d.metrics.inc(M.vxlanWrites, { kind: "neigh", op }, r.neighbors);
    d.metrics.inc(M.vxlanWrites, { kind: "fdb", op }, r.fdb);
  };
  return {
    plan,
    sets: () => {
      const r = applyVxlanSets(d.handle, plan);
      for (const e of plan.setFdb) d.log.info("fdb entry set", { mac: e.mac, dst: e.dst ?? "" });
      for (const n of plan.setNeighbors) d.log.info("neighbour set", { ip: n.ip, mac: n.mac });
      count("set", r);
      return r;
    },
    removals: () => {
      const r = applyVxlanRemovals(d.handle, plan);
      for (const n of plan.removeNeighbors) d.log.info("neighbour removed", { ip: n.ip });
      for (const e of plan.removeFdb) {
        d.log.info("fdb entry removed", { mac: e.mac, dst: e.dst ?? "" });
      }
      count("delete", r);
      return r;
    },
  };
}
