/**
 * Synthetic clusters for the policy benchmark: N namespaces of M pods over
 * K nodes, and P policies per namespace mixing what real clusters write:
 * default deny, same-namespace app allows on ports, namespace selectors,
 * named ports, ipBlock with except, port ranges, egress to DNS. Pure and
 * deterministic.
 * @module
 */

/** Shape of a synthetic cluster. */
export interface SynthOptions {
  namespaces: number;
  podsPerNamespace: number;
  policiesPerNamespace: number;
  nodes: number;
}

/** Raw objects of a synthetic cluster. */
export interface SynthCluster {
  namespaces: unknown[];
  pods: unknown[];
  policies: unknown[];
  /** Pod IP by "ns/name". */
  ips: Map<string, string>;
  /** Node of each pod. */
  nodeOf: Map<string, string>;
}

/** The i-th pod address (10.0.0.0/8, skipping .0). */
export function synthIp(i: number): string {
  const n = i + 1;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** A pod object. */
export function synthPod(
  ns: string,
  name: string,
  ip: string,
  node: string,
  labels: Record<string, string>,
): unknown {
  return {
    metadata: { namespace: ns, name, labels },
    spec: {
      nodeName: node,
      containers: [{
        name: "c",
        ports: [{ name: "http", containerPort: 8080 }, { name: "metrics", containerPort: 9090 }],
      }],
    },
    status: { phase: "Running", podIP: ip },
  };
}

function policy(ns: string, name: string, spec: Record<string, unknown>): unknown {
  return { metadata: { namespace: ns, name }, spec };
}

/** The policies of namespace `k`. */
function policiesOf(ns: string, k: number, count: number, namespaces: number): unknown[] {
  const app = (j: number) => ({ matchLabels: { app: `a${j % 10}` } });
  const kinds = [
    () => policy(ns, "default-deny", { podSelector: {}, policyTypes: ["Ingress"] }),
    (j: number) =>
      policy(ns, `web-${j}`, {
        podSelector: app(j),
        ingress: [{ from: [{ podSelector: app(j + 1) }], ports: [{ port: 80 }, { port: 443 }] }],
      }),
    (j: number) =>
      policy(ns, `team-${j}`, {
        podSelector: app(j),
        ingress: [{
          from: [{ namespaceSelector: { matchLabels: { team: `t${(k + j) % 5}` } } }],
          ports: [{ port: "http" }],
        }],
      }),
    (j: number) =>
      policy(ns, `lb-${j}`, {
        podSelector: app(j),
        ingress: [{
          from: [{ ipBlock: { cidr: "192.168.0.0/16", except: [`192.168.${j}.0/24`] } }],
        }],
      }),
    (j: number) =>
      policy(ns, `range-${j}`, {
        podSelector: app(j),
        ingress: [{
          from: [{
            namespaceSelector: { matchLabels: { ns: `ns${(k + 1) % namespaces}` } },
            podSelector: {
              matchExpressions: [{ key: "tier", operator: "In", values: ["fe", "be"] }],
            },
          }],
          ports: [{ protocol: "TCP", port: 30000, endPort: 30100 }, {
            protocol: "UDP",
            port: 5000,
          }],
        }],
      }),
    (j: number) =>
      policy(ns, `dns-${j}`, {
        podSelector: app(j),
        policyTypes: ["Egress"],
        egress: [
          {
            to: [{ namespaceSelector: { matchLabels: { ns: "ns0" } } }],
            ports: [{ protocol: "UDP", port: 53 }],
          },
          { to: [{ podSelector: {} }] },
        ],
      }),
  ];
  return Array.from(
    { length: count },
    (_, j) => kinds[j === 0 ? 0 : 1 + ((j - 1) % (kinds.length - 1))]!(j),
  );
}

/** Builds a synthetic cluster. */
export function synthCluster(o: SynthOptions): SynthCluster {
  const out: SynthCluster = {
    namespaces: [],
    pods: [],
    policies: [],
    ips: new Map(),
    nodeOf: new Map(),
  };
  let i = 0;
  for (let k = 0; k < o.namespaces; k++) {
    const ns = `ns${k}`;
    out.namespaces.push({ metadata: { name: ns, labels: { ns, team: `t${k % 5}` } } });
    for (let j = 0; j < o.podsPerNamespace; j++, i++) {
      const ip = synthIp(i);
      const node = `n${(j * 31 + k * 7) % o.nodes}`;
      const name = `p${j}`;
      out.pods.push(
        synthPod(ns, name, ip, node, { app: `a${j % 10}`, tier: ["fe", "be", "db"][j % 3]! }),
      );
      out.ips.set(`${ns}/${name}`, ip);
      out.nodeOf.set(`${ns}/${name}`, node);
    }
    out.policies.push(...policiesOf(ns, k, o.policiesPerNamespace, o.namespaces));
  }
  return out;
}
