/**
 * The hostPorts and bandwidth limits of this node's pods, read from the
 * plugin's own records (one JSON file per attachment in its state dir,
 * src/plugin/pod_record.ts): `status` lists them per pod and every pass sets
 * two gauges, without asking the kernel or the runtime.
 * @module
 */
import type { FileSystem } from "../../system/fs.ts";
import { listRecords, type PodRecord } from "../../plugin/pod_record.ts";
import { podStateDirFor } from "../install/conflist.ts";
import { M, type Metrics } from "./metrics.ts";

/** One pod's line in the status report. */
export interface PodFeatureStatus {
  containerId: string;
  ifname: string;
  /** "tcp 8080->80", "udp 10.0.0.1:53->53", ... */
  hostPorts: string[];
  /** "in 10000000/100000 out -" (rate bit/s / burst bit), or "" when not limited. */
  bandwidth: string;
}

/** The records' dir of this agent's network (the conflist writes the same one). */
export function podRecordDir(cfg: { ipamDir: string; networkName: string }): {
  stateDir: string;
  network: string;
} {
  return { stateDir: podStateDirFor(cfg.ipamDir), network: cfg.networkName };
}

/** The status lines of some records, sorted by container (pure). */
export function podFeatureLines(records: readonly PodRecord[]): PodFeatureStatus[] {
  return records.map((r) => {
    const bw = r.bandwidth;
    const dir = (l?: { rate: number; burst: number }) => l ? `${l.rate}/${l.burst}` : "-";
    return {
      containerId: r.containerId,
      ifname: r.ifname,
      hostPorts: r.portMappings.map((m) =>
        `${m.protocol} ${m.hostIP ? `${m.hostIP}:` : ""}${m.hostPort}->${m.containerPort}`
      ),
      bandwidth: bw ? `in ${dir(bw.ingress)} out ${dir(bw.egress)}` : "",
    };
  }).sort((a, b) => a.containerId.localeCompare(b.containerId) || a.ifname.localeCompare(b.ifname));
}

/** Reads the records of this node's pods (none when the dir does not exist). */
export async function readPodFeatures(
  fs: FileSystem,
  cfg: { ipamDir: string; networkName: string },
): Promise<PodFeatureStatus[]> {
  return podFeatureLines(await listRecords(fs, podRecordDir(cfg)));
}

/** Sets the two gauges from the records: mappings, and pods with a limit. */
export function setPodFeatureMetrics(metrics: Metrics, pods: readonly PodFeatureStatus[]): void {
  metrics.set(M.podHostPorts, pods.reduce((n, p) => n + p.hostPorts.length, 0));
  metrics.set(M.podBandwidthLimits, pods.filter((p) => p.bandwidth !== "").length);
}
