/**
 * The NetworkPolicy truth table, modelled on the upstream Kubernetes network
 * policy e2e tests: namespaces x, y, z with pods a, b, c, each serving TCP
 * 80 and 81 and UDP 80, 81 and 53. Every case is a list of declarative steps
 * (the policies in force, label overrides, extra pods) with the expectation
 * written by hand, not computed, so both the evaluator's unit test and the
 * network-namespace suite compare against an independent answer.
 * @module
 */

/** One probe kind. */
export interface Probe {
  port: number;
  protocol: "TCP" | "UDP";
}

/** Pod keys of the fixture ("x/a" ... "z/c"). */
export const XYZ_NAMESPACES = ["x", "y", "z"] as const;
export const XYZ_PODS = XYZ_NAMESPACES.flatMap((n) => ["a", "b", "c"].map((p) => `${n}/${p}`));

/** Node of each pod: every node holds one pod per namespace (same- and cross-node traffic). */
export function xyzNodeOf(pod: string, nodes: readonly string[]): string {
  const [n, p] = pod.split("/") as [string, string];
  const i = (XYZ_NAMESPACES.indexOf(n as "x") + "abcd".indexOf(p)) % nodes.length;
  return nodes[i]!;
}

/** Container ports every fixture pod declares (named like upstream's). */
export const XYZ_PORTS = [
  { name: "serve-80-tcp", containerPort: 80, protocol: "TCP" },
  { name: "serve-81-tcp", containerPort: 81, protocol: "TCP" },
  { name: "serve-80-udp", containerPort: 80, protocol: "UDP" },
  { name: "serve-81-udp", containerPort: 81, protocol: "UDP" },
  { name: "dns", containerPort: 53, protocol: "UDP" },
];

/** What a case's policies may depend on. */
export interface CaseEnv {
  /** Pod key → IPv4 address. */
  ips: ReadonlyMap<string, string>;
  /** The cluster CIDR. */
  clusterCidr: string;
}

/** One step of a case. */
export interface CaseStep {
  what: string;
  /** The NetworkPolicies in force (raw objects). */
  policies: (env: CaseEnv) => unknown[];
  /** Label overrides of pods ("x/b" → labels). */
  labels?: Record<string, Record<string, string>>;
  /** Pods beyond the nine ("x/d"). */
  extraPods?: string[];
  probes: Probe[];
  /** Sources beyond the pods: node names, probing from the node itself. */
  nodeSources?: boolean;
  /**
   * Hand-written expectation for a new connection from → to (a pod key, or a
   * node name for node sources; `nodeOf` gives a pod's node). A pod always
   * reaches itself (loopback): the harness does not ask about that.
   */
  allowed: (from: string, to: string, probe: Probe, nodeOf: (pod: string) => string) => boolean;
}

/** A named case. */
export interface TruthCase {
  name: string;
  steps: CaseStep[];
}

const ns = (k: string) => k.split("/")[0]!;
const pod = (k: string) => k.split("/")[1]!;
const isNode = (k: string) => !k.includes("/");
const TCP80: Probe = { port: 80, protocol: "TCP" };
const TCP81: Probe = { port: 81, protocol: "TCP" };
const UDP81: Probe = { port: 81, protocol: "UDP" };
const UDP53: Probe = { port: 53, protocol: "UDP" };

function np(namespace: string, name: string, spec: Record<string, unknown>): unknown {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { namespace, name },
    spec,
  };
}

const denyIngress = (n: string) =>
  np(n, "deny-ingress", { podSelector: {}, policyTypes: ["Ingress"] });
const podA = { matchLabels: { pod: "a" } };

/** The cases. */
export const TRUTH_CASES: TruthCase[] = [
  {
    name: "default deny ingress",
    steps: [{
      what: "deny all ingress in x",
      policies: () => [denyIngress("x")],
      probes: [TCP80, UDP81],
      allowed: (_f, t) => ns(t) !== "x",
    }],
  },
  {
    name: "default deny egress",
    steps: [{
      what: "deny all egress in x",
      policies: () => [np("x", "deny-egress", { podSelector: {}, policyTypes: ["Egress"] })],
      probes: [TCP80, UDP81],
      allowed: (f) => ns(f) !== "x",
    }],
  },
  {
    name: "allow from same namespace",
    steps: [{
      what: "x admits only x",
      policies:
        () => [np("x", "same-ns", { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
      probes: [TCP80],
      allowed: (f, t) => ns(t) !== "x" || ns(f) === "x",
    }],
  },
  {
    name: "allow from a namespace by label",
    steps: [{
      what: "x/a admits namespace y only",
      policies: () => [np("x", "from-y", {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }] }],
      })],
      probes: [TCP80],
      allowed: (f, t) => t !== "x/a" || ns(f) === "y",
    }],
  },
  {
    name: "pod and namespace selector in one peer (AND)",
    steps: [{
      what: "x/a admits pods b of namespaces y and z",
      policies: () => [np("x", "and", {
        podSelector: podA,
        ingress: [{
          from: [{
            namespaceSelector: {
              matchExpressions: [{ key: "ns", operator: "In", values: ["y", "z"] }],
            },
            podSelector: { matchLabels: { pod: "b" } },
          }],
        }],
      })],
      probes: [TCP80],
      allowed: (f, t) => t !== "x/a" || (ns(f) !== "x" && pod(f) === "b"),
    }],
  },
  {
    name: "pod and namespace selector as two peers (OR)",
    steps: [{
      what: "x/a admits namespace y, and pods b of x",
      policies: () => [np("x", "or", {
        podSelector: podA,
        ingress: [{
          from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }, {
            podSelector: { matchLabels: { pod: "b" } },
          }],
        }],
      })],
      probes: [TCP80],
      allowed: (f, t) => t !== "x/a" || ns(f) === "y" || f === "x/b",
    }],
  },
  {
    name: "ipBlock with except",
    steps: [{
      what: "x/a admits the cluster CIDR except y/a",
      policies: (env) => [np("x", "ipblock", {
        podSelector: podA,
        ingress: [{
          from: [{ ipBlock: { cidr: env.clusterCidr, except: [`${env.ips.get("y/a")}/32`] } }],
        }],
      })],
      probes: [TCP80],
      allowed: (f, t) => t !== "x/a" || f !== "y/a",
    }],
  },
  {
    name: "named ports",
    steps: [{
      what: "x/a admits anyone on serve-81-tcp only",
      policies: () => [
        np("x", "named", { podSelector: podA, ingress: [{ ports: [{ port: "serve-81-tcp" }] }] }),
      ],
      probes: [TCP80, TCP81],
      allowed: (_f, t, p) => t !== "x/a" || p.port === 81,
    }],
  },
  {
    name: "port range (endPort)",
    steps: [{
      what: "x/a admits TCP 81-90 only",
      policies: () => [np("x", "range", {
        podSelector: podA,
        ingress: [{ ports: [{ protocol: "TCP", port: 81, endPort: 90 }] }],
      })],
      probes: [TCP80, TCP81, UDP81],
      allowed: (_f, t, p) => t !== "x/a" || (p.protocol === "TCP" && p.port === 81),
    }],
  },
  {
    name: "multiple policies add up",
    steps: [{
      what: "x/a admits y (one policy) and z/b (another)",
      policies: () => [
        np("x", "from-y", {
          podSelector: podA,
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }] }],
        }),
        np("x", "from-zb", {
          podSelector: podA,
          ingress: [{
            from: [{
              namespaceSelector: { matchLabels: { ns: "z" } },
              podSelector: { matchLabels: { pod: "b" } },
            }],
          }],
        }),
      ],
      probes: [TCP80],
      allowed: (f, t) => t !== "x/a" || ns(f) === "y" || f === "z/b",
    }],
  },
  {
    name: "egress to DNS only",
    steps: [{
      what: "x may send only to UDP 53",
      policies: () => [np("x", "dns-only", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [{ ports: [{ protocol: "UDP", port: 53 }] }],
      })],
      probes: [TCP80, UDP53],
      allowed: (f, _t, p) => ns(f) !== "x" || p.port === 53,
    }],
  },
  {
    name: "policy deleted restores access",
    steps: [
      {
        what: "deny ingress in y",
        policies: () => [denyIngress("y")],
        probes: [TCP80],
        allowed: (_f, t) => ns(t) !== "y",
      },
      { what: "policy deleted", policies: () => [], probes: [TCP80], allowed: () => true },
    ],
  },
  {
    name: "pod relabelled moves in and out of a policy",
    steps: [
      {
        what: "x pods labelled pod=a admit nothing",
        policies: () => [np("x", "isolate-a", { podSelector: podA, policyTypes: ["Ingress"] })],
        probes: [TCP80],
        allowed: (_f, t) => t !== "x/a",
      },
      {
        what: "x/b relabelled pod=a, x/a relabelled pod=z",
        policies: () => [np("x", "isolate-a", { podSelector: podA, policyTypes: ["Ingress"] })],
        labels: { "x/b": { pod: "a" }, "x/a": { pod: "z" } },
        probes: [TCP80],
        allowed: (_f, t) => t !== "x/b",
      },
    ],
  },
  {
    name: "new pod created after the policy",
    steps: [{
      what: "x admits pod=d only; x/d created afterwards",
      policies: () => [
        np("x", "from-d", {
          podSelector: {},
          ingress: [{ from: [{ podSelector: { matchLabels: { pod: "d" } } }] }],
        }),
      ],
      extraPods: ["x/d"],
      probes: [TCP80],
      allowed: (f, t) => ns(t) !== "x" || f === "x/d",
    }],
  },
  {
    name: "replies to allowed connections",
    steps: [{
      what: "x/a admits nothing, may send to y only",
      policies: () => [np("x", "a-out-y", {
        podSelector: podA,
        policyTypes: ["Ingress", "Egress"],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: "y" } } }] }],
      })],
      probes: [TCP80, UDP81],
      allowed: (f, t) => t !== "x/a" && (f !== "x/a" || ns(t) === "y"),
    }],
  },
  {
    name: "node-to-pod always allowed",
    steps: [{
      what: "deny ingress everywhere; nodes probe their pods",
      policies: () => XYZ_NAMESPACES.map(denyIngress),
      nodeSources: true,
      probes: [TCP80],
      // A node reaches its own pods; pods and other nodes reach no pod.
      allowed: (f, t, _p, nodeOf) => isNode(f) && nodeOf(t) === f,
    }],
  },
];

/** Labels of a fixture pod under a step's overrides. */
export function podLabels(key: string, step: CaseStep): Record<string, string> {
  return step.labels?.[key] ?? { pod: pod(key) };
}

/** Namespace objects of the fixture. */
export function xyzNamespaces(): unknown[] {
  return XYZ_NAMESPACES.map((n) => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: n, labels: { ns: n } },
  }));
}

/** A Pod object of the fixture. */
export function xyzPod(
  key: string,
  ip: string,
  node: string,
  labels: Record<string, string>,
): unknown {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { namespace: ns(key), name: pod(key), labels },
    spec: { nodeName: node, containers: [{ name: "server", ports: XYZ_PORTS }] },
    status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
  };
}

/** "." allowed, "X" denied; rows from, columns to. */
export function renderMatrix(
  from: string[],
  to: string[],
  ok: (f: string, t: string) => boolean,
): string {
  const w = Math.max(...from.map((s) => s.length), 4);
  const head = " ".repeat(w) + " " + to.map((t) => t.padEnd(4)).join("");
  const rows = from.map((f) =>
    f.padEnd(w) + " " + to.map((t) => (ok(f, t) ? "." : "X").padEnd(4)).join("")
  );
  return [head, ...rows].join("\n");
}
