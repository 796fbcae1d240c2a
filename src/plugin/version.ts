/**
 * CNI spec versions: which ones hostgate speaks and which commands each
 * allows. Kept apart from the dispatcher so the rules read as a table.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";

/** Every spec version hostgate reads configs and writes results in, oldest first. */
export const SUPPORTED_VERSIONS: readonly string[] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/** The newest spec version; used where no requested version is known. */
export const CURRENT_VERSION = "1.1.0";

/** The commands of the CNI protocol. */
export type CniCommand = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";

/** Oldest config version that may ask for each command (CHECK came in 0.4.0, GC/STATUS in 1.1.0). */
const MIN_VERSION: Record<CniCommand, string> = {
  ADD: "0.3.0",
  DEL: "0.3.0",
  CHECK: "0.4.0",
  GC: "1.1.0",
  STATUS: "1.1.0",
  VERSION: "0.1.0",
};

/** Parses "x.y.z" into numbers; undefined when it is not a plain semantic version. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/.exec(v);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Orders two versions like a comparator; both must parse. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) throw new Error(`Cannot compare versions: ${a} or ${b} is not x.y.z`);
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** True when results of `v` carry `ips[].version` (every version before 1.0.0). */
export function hasIpVersionField(v: string): boolean {
  return compareVersions(v, "1.0.0") < 0;
}

/**
 * Throws CNI error 1 unless `cniVersion` is one hostgate speaks and allows
 * `command`, so a runtime learns at once that it must negotiate another version.
 */
export function requireVersion(cniVersion: string, command: CniCommand): void {
  if (!SUPPORTED_VERSIONS.includes(cniVersion)) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `Cannot use cniVersion ${JSON.stringify(cniVersion)}: hostgate supports ${
        SUPPORTED_VERSIONS.join(", ")
      }`,
    );
  }
  const min = MIN_VERSION[command];
  if (compareVersions(cniVersion, min) < 0) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `Cannot run ${command}: it needs cniVersion ${min} or newer, config is ${cniVersion}`,
    );
  }
}

/** The VERSION command's answer. */
export function versionInfo(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}
