/**
 * The CNI conflist hostgate installs, rendered as a pure function so its
 * exact bytes are tested and "write only when the content changes" is a
 * string comparison. cniVersion stays 1.0.0 for runtimes that know no newer
 * version; newer ones read `cniVersions` and pick 1.1.0.
 * @module
 */
import { familyOf } from "../net/mod.ts";

/** Default IPAM data directory of the plugin; written into the conflist only when different. */
export const DEFAULT_IPAM_DIR = "/run/hostgate/ipam";

/** What the conflist depends on. */
export interface ConflistSpec {
  /** Network name ("hostgate"). */
  name: string;
  bridge: string;
  mtu: number;
  /** This node's pod subnets, one per family. */
  podCidrs: readonly string[];
  /** IPAM data dir; omitted from the file when it is the plugin's default. */
  ipamDir?: string;
}

/** The conflist text (2-space JSON, trailing newline). */
export function renderConflist(spec: ConflistSpec): string {
  if (spec.podCidrs.length === 0) {
    throw new Error("Cannot render the conflist: this node has no pod subnet yet");
  }
  const ordered = [...spec.podCidrs].sort((a, b) => familyOf(a) - familyOf(b));
  const ipam: Record<string, unknown> = {
    type: "hostgate-local",
    ranges: ordered.map((subnet) => [{ subnet }]),
  };
  if (spec.ipamDir !== undefined && spec.ipamDir !== DEFAULT_IPAM_DIR) {
    ipam.dataDir = spec.ipamDir;
  }
  const doc = {
    cniVersion: "1.0.0",
    cniVersions: ["1.0.0", "1.1.0"],
    name: spec.name,
    plugins: [
      {
        type: "hostgate",
        bridge: spec.bridge,
        isGateway: true,
        isDefaultGateway: true,
        mtu: spec.mtu,
        ipam,
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
    ],
  };
  return JSON.stringify(doc, null, 2) + "\n";
}
