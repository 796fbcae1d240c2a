/**
 * The plugin's own record of what it set up for a pod beyond its interface:
 * hostPort mappings and bandwidth limits. One small JSON file per attachment
 * in the plugin's state dir (`<stateDir>/<network>/<hostVeth>.json`), written
 * atomically after the kernel state exists and removed after it is gone, so
 * DEL, CHECK and GC know exactly what to undo or verify, and
 * `hostgate-agent status` can list it without asking the kernel. Loaded on
 * every command (tiny): the nft and tc code is imported only when a record
 * or a capability asks for it.
 * @module
 */
import type { Bandwidth, Json, PortMapping } from "../cni/mod.ts";
import { configFail, isAbsent } from "../cni/mod.ts";
import type { FileSystem } from "../system/fs.ts";

/** Default state dir of the plugin (tmpfs: records describe kernel state, gone at reboot too). */
export const DEFAULT_STATE_DIR = "/run/hostgate/pods";

/** What one attachment has beyond its interface. */
export interface PodRecord {
  containerId: string;
  ifname: string;
  /** The host veth name: the attachment's identity in nft comments and device names. */
  hostVeth: string;
  /** The pod's addresses with their prefix ("10.77.0.5/24"): DNAT targets and hairpin sources. */
  podIps: string[];
  portMappings: PortMapping[];
  bandwidth?: Bandwidth;
}

/** The `stateDir` key of a config (absolute path), or the default; code 7 naming it otherwise. */
export function stateDirOf(raw: Json): string {
  const v = raw["stateDir"];
  if (isAbsent(v) || v === "") return DEFAULT_STATE_DIR;
  if (typeof v !== "string" || !v.startsWith("/") || v.includes("\0")) {
    throw configFail("stateDir", "must be an absolute path");
  }
  return v.replace(/\/+$/, "");
}

/** Path of the record of `hostVeth` in `network`. */
export function recordPath(stateDir: string, network: string, hostVeth: string): string {
  return `${stateDir}/${network}/${hostVeth}.json`;
}

function isRecord(v: unknown): v is PodRecord {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r["containerId"] === "string" && typeof r["hostVeth"] === "string" &&
    Array.isArray(r["podIps"]) && Array.isArray(r["portMappings"]);
}

/** The record at `path`, or undefined when absent or unreadable (a torn file is no record). */
export async function readRecord(fs: FileSystem, path: string): Promise<PodRecord | undefined> {
  const text = await fs.readText(path);
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text);
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the record atomically (temp + rename, mode 0600). */
export async function writeRecord(
  fs: FileSystem,
  at: { stateDir: string; network: string },
  rec: PodRecord,
): Promise<void> {
  await fs.mkdirp(`${at.stateDir}/${at.network}`, 0o700);
  await fs.writeAtomic(
    recordPath(at.stateDir, at.network, rec.hostVeth),
    JSON.stringify(rec) + "\n",
    { mode: 0o600, durable: false },
  );
}

/** Every record of `network` (unreadable ones skipped). */
export async function listRecords(
  fs: FileSystem,
  at: { stateDir: string; network: string },
): Promise<PodRecord[]> {
  const dir = `${at.stateDir}/${at.network}`;
  const out: PodRecord[] = [];
  for (const e of await fs.readDir(dir)) {
    if (!e.isFile || !e.name.endsWith(".json") || e.name.startsWith(".")) continue;
    const r = await readRecord(fs, `${dir}/${e.name}`);
    if (r) out.push(r);
  }
  return out;
}

/** True when the capabilities ask for anything a record holds. */
export function wantsRecord(rt: { portMappings: PortMapping[]; bandwidth?: Bandwidth }): boolean {
  return rt.portMappings.length > 0 || rt.bandwidth !== undefined;
}
