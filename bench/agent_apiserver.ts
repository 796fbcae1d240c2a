/**
 * Child process of the agent benchmark's cold start: the test list/watch
 * server (tests/helpers/apiserver.ts) filled with N Node objects. It runs
 * inside a namespace (a node netns cannot reach the root netns loopback), so
 * it listens in a netns of its own (`--hostname`, reached over a veth). Reads a JSON `ColdServerInput` on
 * stdin, prints one JSON `ColdServerReady` line on stdout once every Node is
 * stored, and stops when stdin closes.
 * @module
 */
import { parseArgs } from "node:util";
import { startApiServer } from "../tests/helpers/apiserver.ts";

/** What the parent asks for. */
export interface ColdServerInput {
  /** Number of Nodes, node-0 .. node-(n-1). */
  nodes: number;
}

/** What the child prints once ready. */
export interface ColdServerReady {
  kubeconfig: string;
  url: string;
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

if (import.meta.main) {
  const { values } = parseArgs({ options: { hostname: { type: "string" } } });
  const stdin = Deno.stdin.readable.getReader();
  const first = await stdin.read();
  const input = JSON.parse(new TextDecoder().decode(first.value)) as ColdServerInput;
  const server = await startApiServer({
    hostname: values.hostname ?? "127.0.0.1",
    bookmarkIntervalMs: 60_000,
  });
  for (let i = 0; i < input.nodes; i++) {
    server.put("nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: `node-${i}` },
      spec: { podCIDR: podCidrOf(i), podCIDRs: [podCidrOf(i)] },
      status: { addresses: [{ type: "InternalIP", address: nodeIpOf(i) }] },
    });
  }
  const ready: ColdServerReady = { kubeconfig: server.kubeconfigPath, url: server.url };
  console.log(JSON.stringify(ready));
  while (!(await stdin.read().catch(() => ({ done: true }))).done) {
    // the parent closes stdin to stop us
  }
  await server.close();
}
