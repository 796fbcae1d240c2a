/**
 * The pod features beyond its interface, as steps the commands call:
 * hostPort mappings (ports/) and bandwidth limits (shaping/), with the pod
 * record (pod_record.ts) that lets DEL, CHECK, GC and the agent's status
 * find them. Imported lazily by the commands, only when the runtime asked
 * for a capability or a record exists, so a plain pod never loads nft or tc
 * code.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import { NetlinkConntrack } from "../system/conntrack_netlink.ts";
import { ExecNft, findNft } from "../system/nft.ts";
import type { NetlinkHandle } from "../system/netlink/types.ts";
import { ExecTc } from "../system/tc.ts";
import type { CommandContext, PluginDeps } from "./deps.ts";
import { messageOf, toCniError } from "./failure.ts";
import { type PodRecord, recordPath, stateDirOf, writeRecord } from "./pod_record.ts";
import { checkPorts, ensurePorts, gcPorts, type PortsDeps, removePorts } from "./ports/mod.ts";
import { checkShaping, ensureShaping, gcShaping, removeShaping } from "./shaping/mod.ts";

type Ctx = Pick<CommandContext, "conf" | "deps" | "log">;

/**
 * Runs `fn` with the hostPort deps: the process's nftables sets (run.ts
 * opens one netfilter socket for the guard and hostPorts) and its conntrack;
 * without an injected conntrack, a ctnetlink socket opens on first use and
 * closes after.
 */
async function withPorts<T>(ctx: Ctx, fn: (ports: PortsDeps) => Promise<T>): Promise<T> {
  const d: PluginDeps = ctx.deps;
  if (!d.portSets) {
    throw new CniError(
      CniCode.Internal,
      "Cannot map host ports: this command has no nftables sets",
    );
  }
  const conntrack = d.conntrack ? undefined : new NetlinkConntrack();
  try {
    return await fn({
      sets: d.portSets,
      nft: d.nft ?? new ExecNft({ exec: d.exec, timeoutMs: 10_000, program: findNft() }),
      conntrack: d.conntrack ?? conntrack!,
      log: ctx.log,
    });
  } finally {
    conntrack?.close();
  }
}

/** The plugin's tc (rtnetlink in-process); `tc` the program when none was given. */
function tcOf(ctx: Ctx) {
  return ctx.deps.tc ?? new ExecTc(ctx.deps.exec);
}

/** Times `fn` as one span under HOSTGATE_TRACE (the bandwidth phase of a call). */
function phase<T>(ctx: Ctx, name: string, fn: () => T): T {
  return ctx.deps.trace ? ctx.deps.trace.span(name, fn) : fn();
}

function withHost<T>(ctx: Ctx, fn: (host: NetlinkHandle) => T): T {
  const host = ctx.deps.netlink.open();
  try {
    return fn(host);
  } finally {
    host.close();
  }
}

/**
 * Lets the node's loopback reach pods: 127.0.0.1 may then be routed out of
 * the interfaces the pod hangs off (set only in the node netns the plugin
 * runs in, only where it is not on yet; a missing device is skipped).
 */
function ensureRouteLocalnet(host: NetlinkHandle, links: readonly string[], ctx: Ctx): void {
  for (const name of links) {
    if (!host.getLink(name)) continue;
    const key = `net/ipv4/conf/${name}/route_localnet`;
    try {
      if (host.getSysctl(key).trim() !== "1") host.setSysctl(key, "1");
    } catch (e) {
      ctx.log.warn(`Cannot enable ${key}: 127.0.0.1 hostPorts will not work`, {
        error: messageOf(e),
      });
    }
  }
}

/**
 * On a bridge, a pod reaching its own hostPort gets its packet back on the
 * port it came from (br_netfilter bridges the DNATed frame): the port needs
 * hairpin mode, or the bridge drops it. A routed veth has no master: no-op.
 */
function ensureHairpin(host: NetlinkHandle, hostVeth: string): void {
  const l = host.getLink(hostVeth);
  if (l && l.master !== undefined) host.setHairpin(l.index, true);
}

/** What ADD knows about the pod once its interface is wired. */
export interface PodFacts {
  containerId: string;
  ifname: string;
  hostVeth: string;
  /** Pod addresses with prefix. */
  podIps: string[];
  /** Host interfaces the pod is reached through (bridge and/or host veth). */
  hostLinks: string[];
  mtu?: number;
}

/**
 * ADD: mappings, then limits, then the record. On any failure whatever this
 * step made is removed again before the error goes up (the caller then
 * removes the veth and the address).
 */
export function addFeatures(ctx: Ctx, pod: PodFacts): Promise<PodRecord> {
  return withPorts(ctx, (ports) => addWith(ctx, pod, ports));
}

async function addWith(ctx: Ctx, pod: PodFacts, ports: PortsDeps): Promise<PodRecord> {
  const rt = ctx.conf.runtime;
  const stateDir = stateDirOf(ctx.conf.raw);
  const rec: PodRecord = {
    containerId: pod.containerId,
    ifname: pod.ifname,
    hostVeth: pod.hostVeth,
    podIps: pod.podIps,
    portMappings: rt.portMappings,
  };
  if (rt.bandwidth) rec.bandwidth = rt.bandwidth;
  const p = { network: ctx.conf.name, hostVeth: pod.hostVeth, podIps: pod.podIps };
  let mapped = false;
  try {
    if (rt.portMappings.length > 0) {
      withHost(ctx, (host) => {
        if (pod.podIps.some((c) => !c.includes(":"))) {
          ensureRouteLocalnet(host, pod.hostLinks, ctx);
        }
        ensureHairpin(host, pod.hostVeth);
      });
      await phase(ctx, "ports: add", () => ensurePorts(ports, { ...p, mappings: rt.portMappings }));
      mapped = true;
    }
    if (rt.bandwidth) {
      await phase(
        ctx,
        "bandwidth: shape",
        () =>
          withHostAsync(ctx, (host) =>
            ensureShaping({ tc: tcOf(ctx), host }, {
              hostVeth: pod.hostVeth,
              bandwidth: rt.bandwidth!,
              ...(pod.mtu === undefined ? {} : { mtu: pod.mtu }),
            })),
      );
    }
    await writeRecord(ctx.deps.fs, { stateDir, network: ctx.conf.name }, rec);
    return rec;
  } catch (e) {
    if (mapped) {
      await removePorts(ports, { ...p, mappings: rt.portMappings }).catch((r) =>
        ctx.log.error("rollback: cannot remove hostPort rules", { error: messageOf(r) })
      );
    }
    try {
      withHost(ctx, (host) => removeShaping(host, pod.hostVeth));
    } catch (r) {
      ctx.log.error("rollback: cannot remove the IFB", { error: messageOf(r) });
    }
    throw toCniError(e, "set up hostPorts and bandwidth");
  }
}

async function withHostAsync<T>(ctx: Ctx, fn: (host: NetlinkHandle) => Promise<T>): Promise<T> {
  const host = ctx.deps.netlink.open();
  try {
    return await fn(host);
  } finally {
    host.close();
  }
}

/** DEL: removes the record's mappings and IFB, then the record. */
export async function delFeatures(ctx: Ctx, rec: PodRecord): Promise<void> {
  const failures: string[] = [];
  if (rec.portMappings.length > 0) {
    await withPorts(ctx, (ports) =>
      phase(ctx, "ports: remove", () =>
        removePorts(ports, {
          network: ctx.conf.name,
          hostVeth: rec.hostVeth,
          podIps: rec.podIps,
          mappings: rec.portMappings,
        }))).catch((e) => failures.push(messageOf(e)));
  }
  if (rec.bandwidth?.egress) {
    try {
      withHost(ctx, (host) => removeShaping(host, rec.hostVeth));
    } catch (e) {
      failures.push(`Cannot delete the IFB of ${rec.hostVeth}: ${messageOf(e)}`);
    }
  }
  if (failures.length > 0) throw new CniError(CniCode.Internal, failures.join("; "));
  const path = recordPath(stateDirOf(ctx.conf.raw), ctx.conf.name, rec.hostVeth);
  await ctx.deps.fs.remove(path);
}

/** CHECK: the record's mappings and limits are in the kernel. */
export async function checkFeatures(ctx: Ctx, rec: PodRecord): Promise<void> {
  await withPorts(ctx, (ports) =>
    checkPorts(ports, {
      network: ctx.conf.name,
      hostVeth: rec.hostVeth,
      podIps: rec.podIps,
      mappings: rec.portMappings,
    }));
  if (rec.bandwidth) {
    const bandwidth = rec.bandwidth;
    await phase(
      ctx,
      "bandwidth: check",
      () => checkShaping({ tc: tcOf(ctx) }, { hostVeth: rec.hostVeth, bandwidth }),
    );
  }
}

/**
 * GC: the records, nft elements and IFBs of pods not in `keep` (host veth
 * names) are removed. Returns failure messages (GC goes on past them).
 */
export async function gcFeatures(
  ctx: Ctx,
  opts: { keep: ReadonlySet<string>; records: readonly PodRecord[] },
): Promise<string[]> {
  const failures: string[] = [];
  try {
    const n = await withPorts(
      ctx,
      (ports) => gcPorts(ports, { network: ctx.conf.name, keep: opts.keep }),
    );
    if (n > 0) ctx.log.info("GC: removed stale hostPort elements", { count: n });
  } catch (e) {
    failures.push(`Cannot collect hostPort rules: ${messageOf(e)}`);
  }
  try {
    const gone = withHost(ctx, (host) => gcShaping(host, opts.keep));
    if (gone.length > 0) ctx.log.info("GC: removed stale IFBs", { links: gone.join(",") });
  } catch (e) {
    failures.push(`Cannot collect IFB devices: ${messageOf(e)}`);
  }
  const stateDir = stateDirOf(ctx.conf.raw);
  if (failures.length === 0) {
    for (const r of opts.records) {
      if (opts.keep.has(r.hostVeth)) continue;
      await ctx.deps.fs.remove(recordPath(stateDir, ctx.conf.name, r.hostVeth));
    }
  }
  return failures;
}
