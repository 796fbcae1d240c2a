/**
 * CNI spec versions: which ones hostgate speaks and which commands each
 * allows, as a table, plus the one version comparator the plugin and a
 * delegated IPAM plugin share.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";

/** Every spec version hostgate reads configs and writes results in, oldest first. */
export const SUPPORTED_VERSIONS: readonly string[] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/** The newest spec version; used where no requested version is known. */
export const CURRENT_VERSION = "1.1.0";

/** The version a config without `cniVersion` has (the spec's pre-0.2 default). */
export const DEFAULT_CONFIG_VERSION = "0.1.0";

/** The commands of the CNI protocol. */
export type CniCommand = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";

/** Every command, in the spec's order. */
export const COMMANDS: readonly CniCommand[] = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"];

/** Oldest version that has each command (CHECK came in 0.4.0, GC/STATUS in 1.1.0). */
export const MIN_VERSION: Readonly<Record<CniCommand, string>> = {
  ADD: "0.3.0",
  DEL: "0.3.0",
  CHECK: "0.4.0",
  GC: "1.1.0",
  STATUS: "1.1.0",
  VERSION: DEFAULT_CONFIG_VERSION,
};

/** The first version whose results drop `ips[].version`. */
const NO_IP_VERSION_FIELD = "1.0.0";

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
  for (let i = 0; i < pa.length; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** True when `v` is `min` or newer; a `v` that is not x.y.z is never new enough. */
export function versionAtLeast(v: string, min: string): boolean {
  return parseVersion(v) !== undefined && compareVersions(v, min) >= 0;
}

/** True when `command` exists in spec version `v` (GC in 1.0.0 does not). */
export function hasCommand(v: string, command: CniCommand): boolean {
  return versionAtLeast(v, MIN_VERSION[command]);
}

/** True when results of `v` carry `ips[].version` (every version before 1.0.0). */
export function hasIpVersionField(v: string): boolean {
  return !versionAtLeast(v, NO_IP_VERSION_FIELD);
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
  if (!hasCommand(cniVersion, command)) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `Cannot run ${command}: it needs cniVersion ${
        MIN_VERSION[command]
      } or newer, config is ${cniVersion}`,
    );
  }
}

/** The VERSION command's answer. */
export function versionInfo(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}
