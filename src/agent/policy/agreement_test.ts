/**
 * Explain and enforcement cannot disagree: on random clusters and policies,
 * the evaluator's answer equals what the compiled nft model does to the
 * packet on every node it crosses (interpreted from the rendered elements).
 */
import assert from "node:assert/strict";
import { nftPasses } from "../testing/nft_interpreter.ts";
import { compile } from "./compile.ts";
import { fullPayload } from "./diff.ts";
import { evaluate, type Packet } from "./evaluate.ts";
import { projectNamespace, projectPod, projectPolicy } from "./project.ts";
import { resolvePolicies } from "./resolve.ts";
import type { PolicyInput, PolicyPod } from "./types.ts";

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NODES = ["n1", "n2", "n3"];
const NODE_IP = (n: string) => `172.30.0.${11 + NODES.indexOf(n)}`;

function randomCase(r: () => number) {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const nsNames = ["x", "y", "z"];
  const labelVals = ["a", "b", "c"];
  const namespaces = nsNames.map((n) => ({
    metadata: { name: n, labels: { team: pick(labelVals) } },
  }));
  const pods: unknown[] = [];
  const n = 5 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const node = pick(NODES);
    const host = r() < 0.1;
    const ip = host ? NODE_IP(node) : `10.244.${NODES.indexOf(node) + 1}.${10 + i}`;
    pods.push({
      metadata: {
        namespace: pick(nsNames),
        name: `p${i}`,
        labels: { app: pick(labelVals), ...(r() < 0.5 ? { tier: pick(labelVals) } : {}) },
      },
      spec: {
        nodeName: node,
        hostNetwork: host,
        containers: [{
          ports: [{
            name: "web",
            containerPort: pick([80, 81, 8080]),
            protocol: pick(["TCP", "UDP"]),
          }],
        }],
      },
      status: {
        phase: "Running",
        podIP: ip,
        // Some pods are dual-stack (hostNetwork ones take the node's single address).
        podIPs: [
          { ip },
          ...(!host && r() < 0.4
            ? [{ ip: `fd00:10:244:${NODES.indexOf(node) + 1}::${10 + i}` }]
            : []),
        ],
      },
    });
  }
  const selector = () => {
    const k = r();
    if (k < 0.25) return {};
    if (k < 0.6) return { matchLabels: { app: pick(labelVals) } };
    const op = pick(["In", "NotIn", "Exists", "DoesNotExist"] as const);
    return {
      matchExpressions: [{
        key: pick(["app", "tier", "team"]),
        operator: op,
        ...(op === "In" || op === "NotIn" ? { values: [pick(labelVals), pick(labelVals)] } : {}),
      }],
    };
  };
  const peer = () => {
    const k = r();
    if (k < 0.2) {
      const base = pick([
        "10.244.0.0/16",
        "10.244.1.0/24",
        "10.244.2.0/25",
        "172.30.0.0/24",
        "0.0.0.0/0",
      ]);
      return {
        ipBlock: {
          cidr: base,
          except: r() < 0.5
            ? [
              pick([
                "10.244.1.16/28",
                "10.244.2.12/30",
                "10.244.3.0/26",
                "172.30.0.12/32",
                "fd00:10:244:2::10/126",
              ]),
            ]
              .filter((e) => e !== base)
            : [],
        },
      };
    }
    if (k < 0.5) return { podSelector: selector() };
    if (k < 0.75) return { namespaceSelector: selector() };
    return { podSelector: selector(), namespaceSelector: selector() };
  };
  const port = () => {
    const k = r();
    const protocol = pick(["TCP", "UDP", "SCTP"]);
    if (k < 0.3) return { protocol, port: pick([80, 81, 53]) };
    if (k < 0.5) return { protocol, port: 80, endPort: pick([80, 81, 90]) };
    if (k < 0.75) return { protocol, port: "web" };
    return { protocol };
  };
  const rules = (key: "from" | "to") =>
    Array.from({ length: Math.floor(r() * 3) }, () => ({
      ...(r() < 0.8 ? { [key]: Array.from({ length: 1 + Math.floor(r() * 2) }, peer) } : {}),
      ...(r() < 0.6 ? { ports: Array.from({ length: 1 + Math.floor(r() * 2) }, port) } : {}),
    }));
  const policies = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => {
    const types = pick([["Ingress"], ["Egress"], ["Ingress", "Egress"], undefined]);
    return {
      metadata: { namespace: pick(nsNames), name: `np${i}` },
      spec: {
        podSelector: selector(),
        ...(types ? { policyTypes: types } : {}),
        ingress: rules("from"),
        egress: rules("to"),
      },
    };
  });
  const input: PolicyInput = {
    namespaces: namespaces.map((o) => projectNamespace(o).value!),
    pods: pods.map((o) => projectPod(o).value!),
    policies: policies.map((o) => projectPolicy(o).value!),
  };
  return { input, policies };
}

/** What the nodes' tables do to a new connection src → dst. */
function enforced(
  models: Map<string, ReturnType<typeof compile>>,
  pods: readonly PolicyPod[],
  p: Packet,
): boolean {
  const nodeOfIp = (ip: string) => NODES.find((n) => NODE_IP(n) === ip);
  const podOf = (ip: string) => pods.find((x) => !x.hostNetwork && x.ips.includes(ip));
  const ctx = (n: string, hook: "forward" | "input") => ({
    hook,
    localAddrs: [NODE_IP(n), `10.244.${NODES.indexOf(n) + 1}.1`],
  });
  const srcPod = podOf(p.src);
  const srcNode = srcPod?.nodeName ?? nodeOfIp(p.src);
  const dstPod = podOf(p.dst);
  const dstNode = dstPod?.nodeName ?? nodeOfIp(p.dst);
  if (srcPod) {
    const hook = dstNode === srcNode && !dstPod ? "input" : "forward";
    if (!nftPasses(models.get(srcNode!)!, p, ctx(srcNode!, hook))) return false;
  }
  if (dstPod) {
    // From the pod's own node (or a hostNetwork pod there): output path, no forward hook.
    if (!srcPod && srcNode === dstNode) return true;
    if (srcPod && srcNode === dstNode) return true; // same forward pass as above
    if (!nftPasses(models.get(dstNode!)!, p, ctx(dstNode!, "forward"))) return false;
  }
  return true;
}

Deno.test("evaluator and compiled nft agree on 300 random clusters", () => {
  const r = rng(16);
  let checked = 0;
  let denied = 0;
  for (let iter = 0; iter < 300; iter++) {
    const { input, policies } = randomCase(r);
    const model = resolvePolicies(input);
    const models = new Map(NODES.map((n) => [n, compile(model, { node: n })]));
    for (const n of NODES) {
      // A node resolves only the policies of its own pods: same table.
      const scoped = compile(resolvePolicies(input, { node: n }), { node: n });
      assert.equal(fullPayload(scoped), fullPayload(models.get(n)!));
    }
    const srcs = [
      ...new Set([...input.pods.flatMap((p) => p.ips), ...NODES.map(NODE_IP), "192.0.2.7"]),
    ];
    const dsts = [
      ...new Set([
        ...input.pods.filter((p) => !p.hostNetwork).flatMap((p) => p.ips),
        ...NODES.map(NODE_IP),
      ]),
    ];
    for (const src of srcs) {
      for (const dst of dsts) {
        if (src === dst || src.includes(":") !== dst.includes(":")) continue;
        for (
          const [protocol, port] of [["TCP", 80], ["UDP", 81], ["SCTP", 8080], ["ICMP", 0], [
            "TCP",
            53,
          ]] as const
        ) {
          const pkt: Packet = { src, dst, protocol, port };
          const want = evaluate(model, pkt, new Map(NODES.map((n) => [n, [NODE_IP(n)]]))).allowed;
          const got = enforced(models, input.pods, pkt);
          checked++;
          if (!want) denied++;
          assert.equal(
            got,
            want,
            `iteration ${iter}: ${JSON.stringify(pkt)}\npolicies: ${
              JSON.stringify(policies, null, 1)
            }`,
          );
        }
      }
    }
  }
  // The random cases must exercise both answers.
  assert.ok(
    denied > checked / 20 && denied < checked - checked / 20,
    `${denied} of ${checked} denied`,
  );
});
