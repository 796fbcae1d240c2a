/**
 * The CNI conflist hostgate installs, rendered as a pure function so its
 * exact bytes are tested and "write only when the content changes" is a
 * string comparison. cniVersion stays 1.0.0 for runtimes that know no newer
 * version; newer ones read `cniVersions` and pick 1.1.0.
 * @module
 */
import { familyOf } from "../../net/mod.ts";
import type { AgentConfig } from "../cli/mod.ts";
import { IPPOOL_TYPE } from "../../ipam/config.ts";

/** Default IPAM data directory of the plugin; written into the conflist only when different. */
export const DEFAULT_IPAM_DIR = "/run/hostgate/ipam";

/**
 * The plugin's pod-record dir (hostPorts, bandwidth) beside an IPAM dir:
 * "<parent>/pods", which for the default IPAM dir is the plugin's default
 * (/run/hostgate/pods), so it is written only when the IPAM dir is not.
 */
export function podStateDirFor(ipamDir: string): string {
  const parent = ipamDir.replace(/\/+$/, "").replace(/\/[^/]*$/, "");
  return `${parent || ""}/pods`;
}

/** What the conflist depends on. */
export interface ConflistSpec {
  /** Network name ("hostgate"). */
  name: string;
  /** How the plugin wires pods; "routed" when absent. */
  mode?: "routed" | "bridge";
  /** The pod bridge (written only in bridge mode). */
  bridge: string;
  mtu: number;
  /** This node's pod subnets, one per family. */
  podCidrs: readonly string[];
  /** IPAM data dir; omitted from the file when it is the plugin's default. */
  ipamDir?: string;
  /** Set: the ipam section is hostgate-ippool instead of hostgate-local. */
  ippool?: ConflistIppool;
  /** The agent's plugin socket (`agentSocket`), when it serves plugin calls. */
  agentSocket?: string;
}

/** The hostgate-ippool ipam section's values. */
export interface ConflistIppool {
  /** IPPool name. */
  pool: string;
  /** Kubeconfig the plugin reads (JSON). */
  kubeconfig: string;
  /** This node's name as the Kubernetes API knows it (the plugin's default is the host name). */
  nodeName: string;
}

/**
 * The ippool section for this config, or undefined with --ipam local. The
 * plugin's kubeconfig is the one the agent writes (--ippool-kubeconfig) or,
 * outside a pod, the agent's own --kubeconfig (which must then be JSON).
 */
export function conflistIppool(
  cfg: Pick<AgentConfig, "ipam" | "ippoolName" | "ippoolKubeconfig" | "kubeconfig" | "nodeName">,
): ConflistIppool | undefined {
  if (cfg.ipam !== "ippool") return undefined;
  return {
    pool: cfg.ippoolName,
    kubeconfig: cfg.ippoolKubeconfig ?? cfg.kubeconfig,
    nodeName: cfg.nodeName,
  };
}

/** The config fields the conflist reads. */
export type ConflistConfig =
  & Pick<
    AgentConfig,
    | "networkName"
    | "podMode"
    | "bridge"
    | "ipamDir"
    | "ipam"
    | "ippoolName"
    | "ippoolKubeconfig"
    | "kubeconfig"
    | "nodeName"
  >
  // Optional: configs built before the plugin socket existed (and tests) have none.
  & Partial<Pick<AgentConfig, "pluginSocket">>;

/**
 * The conflist of this agent's config for a node's pod subnets and pod MTU:
 * install, reconcile and status all compare or write exactly this text.
 */
export function conflistFor(
  cfg: ConflistConfig,
  node: { podCidrs: string[]; mtu: number },
): string {
  return renderConflist({
    name: cfg.networkName,
    mode: cfg.podMode,
    bridge: cfg.bridge,
    mtu: node.mtu,
    podCidrs: node.podCidrs,
    ipamDir: cfg.ipamDir,
    ippool: conflistIppool(cfg),
    ...(cfg.pluginSocket ? { agentSocket: cfg.pluginSocket } : {}),
  });
}

/** The conflist text (2-space JSON, trailing newline). */
export function renderConflist(spec: ConflistSpec): string {
  const ipam = spec.ippool
    ? {
      type: IPPOOL_TYPE,
      pool: spec.ippool.pool,
      kubeconfig: spec.ippool.kubeconfig,
      nodeName: spec.ippool.nodeName,
    }
    : localIpam(spec);
  const entry: Record<string, unknown> = {
    type: "hostgate",
    mode: spec.mode ?? "routed",
    ...(spec.mode === "bridge" ? { bridge: spec.bridge } : {}),
    isGateway: true,
    isDefaultGateway: true,
    mtu: spec.mtu,
    // hostPorts and bandwidth are built in: no Go plugin in the chain.
    capabilities: { portMappings: true, bandwidth: true },
  };
  if (spec.ipamDir !== undefined && spec.ipamDir !== DEFAULT_IPAM_DIR) {
    entry.stateDir = podStateDirFor(spec.ipamDir);
  }
  entry.ipam = ipam;
  if (spec.agentSocket) entry.agentSocket = spec.agentSocket;
  const doc = {
    cniVersion: "1.0.0",
    cniVersions: ["1.0.0", "1.1.0"],
    name: spec.name,
    plugins: [entry],
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

function localIpam(spec: ConflistSpec): Record<string, unknown> {
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
  return ipam;
}
