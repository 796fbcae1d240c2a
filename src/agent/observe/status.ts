/**
 * `hostgate-agent status`: this node as the kernel and the datastore see it.
 * The report is built by a pure function from what was read (desired state,
 * hostgate's routes, rule state, conflist, IPAM files) and rendered as a
 * table or JSON on stdout.
 * @module
 */
import type { FileSystem } from "../../system/fs.ts";
import type { PodFeatureStatus } from "./pod_features.ts";
import type { Route } from "../../system/netlink/types.ts";
import { canonIp, normalizeCidr } from "../../net/mod.ts";
import type { DesiredState, Reject } from "../reconcile/mod.ts";
import { routeMatches } from "../routes/mod.ts";
import type { VxlanEntries } from "../vxlan/mod.ts";

/** One peer and family in the report. */
export interface PeerStatus {
  name: string;
  family: 4 | 6;
  nodeIp: string;
  subnet: string;
  mode: string;
  /** present | missing | wrong | skipped. */
  route: "present" | "missing" | "wrong" | "skipped";
  detail: string;
}

/** The whole report. */
export interface StatusReport {
  node: string;
  datastore: { kind: string; connected: boolean; lastError?: string };
  subnets: string[];
  nodeIps: string[];
  peers: PeerStatus[];
  /** hostgate routes whose node is gone. */
  staleRoutes: string[];
  rules: { backend: string; inPlace: boolean };
  conflist: { path: string; state: "current" | "outdated" | "missing" | "not-yet" };
  ipam: { dir: string; inUse: number };
  /** Datastore values the trust gate refused (never routed). */
  rejected: Reject[];
  /** Pods with hostPorts or bandwidth limits (the plugin's records). */
  pods: PodFeatureStatus[];
}

/** Inputs of `buildStatus`. */
export interface StatusInput {
  node: string;
  datastore: StatusReport["datastore"];
  desired: DesiredState;
  nodeIps: string[];
  ownRoutes: Route[];
  /** Entries on the vxlan device, when it exists: VXLAN peers need a neighbour and FDB entry too. */
  vxlanEntries?: VxlanEntries;
  rules: StatusReport["rules"];
  conflist: StatusReport["conflist"];
  ipam: StatusReport["ipam"];
  rejects?: readonly Reject[];
  pods?: readonly PodFeatureStatus[];
}

/** Builds the report: each peer route present, missing or wrong. */
export function buildStatus(i: StatusInput): StatusReport {
  const peers = i.desired.peers.map((p): PeerStatus => {
    const base = {
      name: p.name,
      family: p.family,
      nodeIp: p.nodeIp ?? "-",
      subnet: p.podCidr ?? "-",
      mode: p.mode,
    };
    if (!p.route) return { ...base, route: "skipped", detail: p.reason ?? "" };
    const want = p.route;
    const have = i.ownRoutes.filter((r) => normalizeCidr(r.dst) === want.dst);
    if (have.some((r) => routeMatches(want, r))) {
      const missing = p.vtep ? missingTunnelEntries(p.vtep, p.nodeIp ?? "", i.vxlanEntries) : "";
      return missing
        ? { ...base, route: "wrong", detail: missing }
        : { ...base, route: "present", detail: "" };
    }
    if (have.length > 0) {
      return { ...base, route: "wrong", detail: `via ${have[0]!.gateway ?? "?"}` };
    }
    return { ...base, route: "missing", detail: "" };
  });
  const wanted = new Set(i.desired.routes.map((r) => r.dst));
  return {
    node: i.node,
    datastore: i.datastore,
    subnets: i.desired.selfPodCidrs,
    nodeIps: i.nodeIps,
    peers,
    staleRoutes: i.ownRoutes.filter((r) => !wanted.has(normalizeCidr(r.dst))).map((r) =>
      `${r.dst} via ${r.gateway ?? "?"}`
    ),
    rules: i.rules,
    conflist: i.conflist,
    ipam: i.ipam,
    rejected: [...(i.rejects ?? [])],
    pods: [...(i.pods ?? [])],
  };
}

/** "" when the neighbour and FDB entries of a VXLAN peer are in place, else what is missing. */
function missingTunnelEntries(
  vtep: { ip: string; mac: string },
  nodeIp: string,
  e: VxlanEntries | undefined,
): string {
  const neigh = e?.neighbors.some((n) =>
    canonIp(n.ip) === vtep.ip && n.mac.toLowerCase() === vtep.mac && n.permanent
  );
  const fdb = e?.fdb.some((f) =>
    f.mac.toLowerCase() === vtep.mac && f.dst !== undefined && canonIp(f.dst) === nodeIp
  );
  return [neigh ? "" : "neighbour missing", fdb ? "" : "fdb missing"].filter((x) => x).join(", ");
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((x, c) => x.padEnd(widths[c]!)).join("  ").trimEnd());
}

/** The human table. */
export function renderStatus(r: StatusReport): string {
  const ds = r.datastore.connected
    ? "connected"
    : `NOT connected${r.datastore.lastError ? ` (${r.datastore.lastError})` : ""}`;
  const out = [
    `node:       ${r.node}`,
    `datastore:  ${r.datastore.kind}, ${ds}`,
    `subnets:    ${r.subnets.length > 0 ? r.subnets.join(", ") : "none yet"}`,
    `node IPs:   ${r.nodeIps.join(", ") || "-"}`,
    `rules:      ${r.rules.inPlace ? "present" : "MISSING or outdated"} (${r.rules.backend})`,
    `conflist:   ${r.conflist.state} (${r.conflist.path})`,
    `IPs in use: ${r.ipam.inUse} (${r.ipam.dir})`,
    "",
  ];
  if (r.peers.length === 0) {
    out.push("peers:      none");
  } else {
    out.push(
      ...table([
        ["PEER", "FAMILY", "NODE IP", "SUBNET", "MODE", "ROUTE", "DETAIL"],
        ...r.peers.map((p) => [
          p.name,
          `ipv${p.family}`,
          p.nodeIp,
          p.subnet,
          p.mode,
          p.route,
          p.detail,
        ]),
      ]),
    );
  }
  if (r.pods.length > 0) {
    out.push(
      "",
      ...table([
        ["POD", "IFNAME", "HOSTPORTS", "BANDWIDTH (bit/s / burst bits)"],
        ...r.pods.map((p) => [
          p.containerId.slice(0, 12),
          p.ifname,
          p.hostPorts.join(",") || "-",
          p.bandwidth || "-",
        ]),
      ]),
    );
  }
  for (const s of r.staleRoutes) out.push(`stale route: ${s}`);
  for (const x of r.rejected) {
    out.push(`rejected: node ${x.node} ${x.field} ${x.value}: ${x.reason} (${x.detail})`);
  }
  return out.join("\n") + "\n";
}

/**
 * Addresses in use: files in the IPAM dir of the network, except the lock,
 * the last-reserved markers and temp files (host-local's layout).
 */
export async function countIpsInUse(fs: FileSystem, dir: string): Promise<number> {
  const entries = await fs.readDir(dir);
  return entries.filter((e) =>
    e.isFile && e.name !== "lock" && !e.name.startsWith("last_reserved_ip") &&
    !e.name.startsWith(".")
  ).length;
}
