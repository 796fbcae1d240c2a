/**
 * The pure parts of the kind smoke test (deploy/kind/smoke.ts): which tools
 * are missing, the image the manifest runs, the test workloads, route parsing.
 * No process is spawned here, so tests/deploy_test.ts checks them directly.
 * @module
 */

/** The programs the smoke test drives. */
export const REQUIRED_TOOLS: readonly string[] = ["docker", "kind", "kubectl"];

/** Pinned images of the test workloads (the Kubernetes e2e suite's own). */
export const AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53";
/** A client with wget and nslookup. */
export const BUSYBOX_IMAGE = "docker.io/library/busybox:1.36";
/** The hostPort the server pod publishes on its node. */
export const HOST_PORT = 18080;
/** The port agnhost netexec serves HTTP on. */
export const SERVER_PORT = 8080;

/** Tells whether an executable named `name` is in one PATH directory. */
export type IsExecutable = (path: string) => Promise<boolean>;

/** The tools of `names` found in no directory of `pathEnv` (a PATH value). */
export async function missingTools(
  names: readonly string[],
  opts: { pathEnv: string; isExecutable: IsExecutable },
): Promise<string[]> {
  const dirs = opts.pathEnv.split(":").filter((d) => d !== "");
  const missing: string[] = [];
  for (const name of names) {
    let found = false;
    for (const dir of dirs) {
      if (await opts.isExecutable(`${dir}/${name}`)) {
        found = true;
        break;
      }
    }
    if (!found) missing.push(name);
  }
  return missing;
}

/** The message printed when tools are missing: says plainly that nothing was tested. */
export function missingToolsMessage(missing: readonly string[]): string {
  return [
    `kind-smoke: Cannot run the kind smoke test: ${missing.join(", ")} not found on PATH.`,
    "kind-smoke: it needs Docker (with a running daemon), kind and kubectl.",
    "kind-smoke: NOTHING WAS BUILT OR TESTED.",
  ].join("\n");
}

/**
 * The one image every container of the rendered manifest runs. Throws when
 * there is none or several, since the smoke test builds and loads exactly one.
 */
export function manifestImage(renderedYaml: string): string {
  const images = new Set(
    [...renderedYaml.matchAll(/^\s*image:\s*"?([^"\s#]+)"?\s*$/gm)].map((m) => m[1]!),
  );
  if (images.size !== 1) {
    throw new Error(
      `Cannot find the image of deploy/hostgate.yaml: expected one, found ${
        [...images].join(", ")
      }`,
    );
  }
  return [...images][0]!;
}

/** One route of `ip route show` output. */
export interface ShownRoute {
  dst: string;
  via?: string;
}

/** Parses `ip route show` lines ("10.244.1.0/24 via 172.18.0.3 dev eth0 ..."). */
export function parseRoutes(text: string): ShownRoute[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").map((line) => {
    const words = line.split(/\s+/);
    const viaAt = words.indexOf("via");
    const route: ShownRoute = { dst: words[0]! };
    if (viaAt >= 0 && words[viaAt + 1]) route.via = words[viaAt + 1]!;
    return route;
  });
}

/** What the smoke test knows of a Kubernetes node. */
export interface SmokeNode {
  name: string;
  podCidrs: string[];
  internalIps: string[];
}

/** Reads names, pod CIDRs and InternalIPs from `kubectl get nodes -o json`. */
export function parseNodes(json: string): SmokeNode[] {
  const list = JSON.parse(json) as {
    items: {
      metadata: { name: string };
      spec?: { podCIDR?: string; podCIDRs?: string[] };
      status?: { addresses?: { type: string; address: string }[] };
    }[];
  };
  return list.items.map((n) => ({
    name: n.metadata.name,
    podCidrs: n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []),
    internalIps: (n.status?.addresses ?? []).filter((a) => a.type === "InternalIP").map((a) =>
      a.address
    ),
  }));
}

/**
 * Problems with one node's hostgate routes: a peer's pod CIDR missing or via
 * the wrong gateway. Empty when every other node is routed through its IP.
 */
export function routeProblems(
  self: string,
  nodes: readonly SmokeNode[],
  routes: readonly ShownRoute[],
): string[] {
  const problems: string[] = [];
  for (const peer of nodes) {
    if (peer.name === self) continue;
    for (const cidr of peer.podCidrs) {
      const route = routes.find((r) => r.dst === cidr);
      if (!route) problems.push(`${self}: no route to ${peer.name}'s ${cidr}`);
      else if (!route.via || !peer.internalIps.includes(route.via)) {
        problems.push(`${self}: route to ${cidr} via ${route.via ?? "nothing"}, not ${peer.name}`);
      }
    }
  }
  return problems;
}

/** The test workloads as one `kubectl apply -f -` List: server, client, Service. */
export function workloads(opts: { serverNode: string; clientNode: string }): string {
  const labels = { "app.kubernetes.io/name": "hg-smoke-server" };
  const server = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "hg-server", namespace: "default", labels },
    spec: {
      nodeSelector: { "kubernetes.io/hostname": opts.serverNode },
      containers: [{
        name: "netexec",
        image: AGNHOST_IMAGE,
        args: ["netexec", `--http-port=${SERVER_PORT}`],
        ports: [{ containerPort: SERVER_PORT, hostPort: HOST_PORT, protocol: "TCP" }],
        readinessProbe: { httpGet: { path: "/healthz", port: SERVER_PORT } },
      }],
    },
  };
  const client = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "hg-client", namespace: "default" },
    spec: {
      nodeSelector: { "kubernetes.io/hostname": opts.clientNode },
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "busybox", image: BUSYBOX_IMAGE, args: ["sleep", "3600"] }],
    },
  };
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "hg-server", namespace: "default" },
    spec: { selector: labels, ports: [{ port: 80, targetPort: SERVER_PORT, protocol: "TCP" }] },
  };
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: [server, client, service] });
}
