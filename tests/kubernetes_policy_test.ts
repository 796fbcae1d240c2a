/**
 * NetworkPolicy inputs through the Kubernetes datastore: client-node
 * informers on NetworkPolicies, Pods and Namespaces against the test
 * list/watch server, projected at ingest, events seen, 410 relist, and the
 * last good inputs kept through an outage. No root needed.
 * @module
 */
import assert from "node:assert/strict";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { KubernetesDatastore } from "../src/datastore/kubernetes/datastore.ts";

const NP = {
  group: "networking.k8s.io",
  version: "v1",
  resource: "networkpolicies",
  kind: "NetworkPolicy",
  namespaced: true,
} as const;

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`Cannot observe: ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function pod(name: string, ip: string, labels: Record<string, string>) {
  return {
    metadata: { name, namespace: "x", labels, annotations: { big: "x".repeat(1000) } },
    spec: {
      nodeName: "n1",
      containers: [{ name: "c", image: "busybox", ports: [{ name: "http", containerPort: 8080 }] }],
    },
    status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
  };
}

Deno.test("kubernetes policy source: lists, watches and projects the three kinds", async () => {
  const s: ApiServer = await startApiServer({ extraResources: [NP] });
  const ds = new KubernetesDatastore({
    kubeconfigPath: s.kubeconfigPath,
    backoff: { initialMs: 30, maxMs: 200 },
    log: () => {},
    watchPolicy: true,
  });
  try {
    s.put("namespaces", { metadata: { name: "x", labels: { team: "a" } } });
    s.put("pods", pod("a", "10.244.1.5", { app: "web" }));
    s.put("networkpolicies", {
      metadata: { name: "deny", namespace: "x" },
      spec: { podSelector: { matchLabels: { app: "web" } }, policyTypes: ["Ingress"] },
    });
    let events = 0;
    await ds.policy!.start(() => events++);
    await until("a first snapshot", () => ds.policy!.input() !== undefined);
    const first = ds.policy!.input()!;
    assert.deepEqual(first.pods, [{
      namespace: "x",
      name: "a",
      labels: { app: "web" },
      ips: ["10.244.1.5"],
      nodeName: "n1",
      hostNetwork: false,
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    }]);
    assert.deepEqual(first.namespaces[0]?.labels, {
      team: "a",
      "kubernetes.io/metadata.name": "x",
    });
    assert.equal(first.policies[0]?.name, "deny");

    // Changes arrive by watch: a relabel, a new policy, a deleted pod.
    s.put("pods", pod("a", "10.244.1.5", { app: "db" }));
    s.put("pods", pod("b", "10.244.1.6", { app: "web" }));
    s.put("networkpolicies", {
      metadata: { name: "bad", namespace: "x" },
      spec: { podSelector: "x" },
    });
    await until("the relabel, the new pod and the refused policy", () => {
      const i = ds.policy!.input()!;
      return i.pods.length === 2 && i.pods.some((p) => p.labels.app === "db") &&
        ds.policy!.rejected().has("NetworkPolicy x/bad");
    });
    assert.ok(events >= 3);

    // A compacted history forces a relist; a deletion during it is still seen.
    s.compact();
    s.remove("pods", "b", "x");
    s.dropWatches();
    await until("pod b gone after the relist", () => ds.policy!.input()!.pods.length === 1);

    // An outage keeps the last inputs (unknown is never empty).
    await s.setDown(true, "503");
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(ds.policy!.input()!.pods.length, 1);
    await s.setDown(false);
  } finally {
    await ds.close();
    await s.close();
  }
});
