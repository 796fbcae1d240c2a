/**
 * Child process of the agent benchmark's Kubernetes suites: the test
 * list/watch server (tests/helpers/apiserver.ts) filled with N Node objects,
 * tiny or kubelet-shaped (~10 KB: managedFields, images, conditions). It runs
 * inside a namespace (a node netns cannot reach the root netns loopback), so
 * it listens in a netns of its own (`--hostname`, reached over a veth).
 *
 * Reads JSON lines on stdin: first a `ColdServerInput`, answered by one
 * `ColdServerReady` line once every Node is stored; then `ServerCommand`s,
 * each answered by one `{"done":true}` line once applied. Stops when stdin
 * closes.
 * @module
 */
import { parseArgs } from "node:util";
import { startApiServer } from "../tests/helpers/apiserver.ts";
import type { KubeObject } from "../tests/helpers/apiserver_semantics.ts";
import { kubeletNode } from "../tests/helpers/apiserver_kubelet_node.ts";
import { jsonLines } from "../src/datastore/kubernetes/ndjson.ts";

/** Shape of the served Node objects. */
export type NodeShape = "tiny" | "kubelet";

/** What the parent asks for. */
export interface ColdServerInput {
  /** Number of Nodes, node-0 .. node-(n-1). */
  nodes: number;
  /** Default "tiny". */
  shape?: NodeShape;
}

/** What the child prints once ready. */
export interface ColdServerReady {
  kubeconfig: string;
  url: string;
}

/**
 * Changes applied on request: `status` kubelet status updates (heartbeats,
 * images; nothing the agent reads) spread over nodes 1..n-1, and `readd`
 * nodes deleted and created again (a route out and back in).
 */
export interface ServerCommand {
  status?: number;
  readd?: number;
}

/** Pod subnet of node `i`: 10.(i>>8).(i&255).0/24, inside 10.0.0.0/8 (room for 65,536 nodes). */
export function podCidrOf(i: number): string {
  return `10.${i >> 8}.${i & 255}.0/24`;
}

/** InternalIP of node `i`: 172.16.0.0/16 from .0.10 on, one on-link segment for all. */
export function nodeIpOf(i: number): string {
  const n = i + 10;
  return `172.16.${n >> 8}.${n & 255}`;
}

/** Node `i` in the given shape; `tick` varies a kubelet Node's status. */
export function benchNode(i: number, shape: NodeShape, tick = 0): KubeObject {
  const spec = { name: `node-${i}`, podCidrs: [podCidrOf(i)], ips: [nodeIpOf(i)] };
  if (shape === "kubelet") return kubeletNode(spec, tick);
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: spec.name },
    spec: { podCIDR: spec.podCidrs[0], podCIDRs: spec.podCidrs },
    status: { addresses: [{ type: "InternalIP", address: spec.ips[0]! }] },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { hostname: { type: "string" } } });
  const lines = jsonLines(Deno.stdin.readable);
  const first = await lines.next();
  const input = first.value as ColdServerInput;
  const shape = input.shape ?? "tiny";
  const server = await startApiServer({
    hostname: values.hostname ?? "127.0.0.1",
    bookmarkIntervalMs: 60_000,
    // Room for a soak's churn between a LIST and its watch, without keeping every status update.
    watchWindow: 20_000,
  });
  for (let i = 0; i < input.nodes; i++) server.put("nodes", benchNode(i, shape));
  // Serialize every Node once now, as kube-apiserver's watch cache has its objects ready:
  // the agent's cold start then measures the agent, not this server's JSON.stringify.
  const nodeDef = server.resource("nodes");
  for (const o of server.store.scan(nodeDef)) server.store.jsonOf(o);
  const ready: ColdServerReady = { kubeconfig: server.kubeconfigPath, url: server.url };
  console.log(JSON.stringify(ready));
  let tick = 0;
  let cursor = 0;
  const next = () => 1 + (cursor++ % Math.max(1, input.nodes - 1));
  for await (const line of lines) {
    const cmd = line as ServerCommand;
    for (let k = 0; k < (cmd.status ?? 0); k++) {
      server.put("nodes", benchNode(next(), shape, ++tick));
    }
    for (let k = 0; k < (cmd.readd ?? 0); k++) {
      const i = next();
      server.remove("nodes", `node-${i}`);
      server.put("nodes", benchNode(i, shape, ++tick));
    }
    console.log(JSON.stringify({ done: true }));
  }
  await server.close();
}
