/**
 * Names, paths and shapes of the simulated cluster, shared by the harness
 * (cluster.ts), the kept-cluster state (demo_state.ts) and the benchmark.
 * @module
 */
import { run } from "../helpers/netns.ts";
import type { DatastoreKind } from "./datastores.ts";
import type { PodAttachment } from "./runtime.ts";
import type { SimNode } from "./topology.ts";

/** Repository root, with a trailing slash. */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;
/** The bundled agent and plugin (`deno task bundle`). */
export const AGENT_BIN = `${REPO_ROOT}dist/bundle/hostgate-agent`;
export const PLUGIN_BIN = `${REPO_ROOT}dist/bundle/hostgate`;
/** The reference portmap plugin, installed by the agent beside hostgate. */
export const PORTMAP_BIN = "/usr/lib/cni/portmap";
export const ECHO_SERVER = `${REPO_ROOT}tests/cluster/echo_server.ts`;

/** Options of `Cluster.start`. */
export interface ClusterOptions {
  /** Namespace name prefix, unique to the caller ("hgcf", "hgdemo"). */
  prefix: string;
  nodes: number;
  /** Default "file". */
  datastore?: DatastoreKind;
  /** Default "10.244.0.0/16". */
  clusterCidr?: string;
  /** Agents (and etcd) survive the harness: `demo --keep`. */
  detach?: boolean;
  /** Agents' --resync-interval; default "30s" (changes arrive by watch, not by timer). */
  resyncInterval?: string;
  /** Progress lines (stderr by default). */
  log?: (msg: string) => void;
  /** Tear down on SIGINT/SIGTERM, also while building (default true). */
  signals?: boolean;
  /** More `hostgate-agent run` flags for every agent (e.g. --ipam=ippool). */
  agentFlags?: string[];
  /**
   * Agents serve plugin calls on `<node dir>/plugin.sock` (`--plugin-socket`),
   * so pods are made by the agent and by the plugin itself only while the
   * agent is down. Default true; false: every call runs in the plugin process.
   */
  pluginSocket?: boolean;
}

/** A node's own CNI directories and agent log. */
export interface NodeDirs {
  bin: string;
  conf: string;
  ipam: string;
  agentLog: string;
  /** The agent's plugin socket. */
  socket: string;
}

/** A pod made by `Cluster.addPod`. */
export interface Pod extends PodAttachment {
  /** "a", "b" ... unique per node. */
  name: string;
  /** "n1/a". */
  label: string;
  node: SimNode;
  /** The pod's namespace. */
  netns: string;
}

/** What a kept cluster leaves in its state file. */
export interface ClusterState {
  prefix: string;
  dir: string;
  namespaces: string[];
  pids: { pid: number; name: string }[];
}

/** Namespaces whose name starts with `<prefix>-`. */
export async function namespacesWith(prefix: string): Promise<string[]> {
  const r = await run(["ip", "netns", "list"]);
  return r.stdout.split("\n").map((l) => l.split(" ")[0] ?? "").filter((n) =>
    n.startsWith(`${prefix}-`)
  );
}
