/**
 * Resolution: policies + pods + namespaces → the model both the nft compiler
 * and the explain evaluator read. Selectors become address intervals, named
 * ports become (address, protocol, port) triples on the pods that name them.
 * Pure; peers that several rules share are resolved once.
 * @module
 */
import { type Family, parseIp } from "../../net/address.ts";
import {
  addressInterval,
  cidrInterval,
  emptyAddressSet,
  mergeIntervals,
  subtractIntervals,
  unionInto,
} from "./intervals.ts";
import { selectorText, selects } from "./selector.ts";
import type {
  AddressPort,
  AddressSet,
  Direction,
  Interval,
  NetworkPolicy,
  PolicyInput,
  PolicyModel,
  PolicyPeer,
  PolicyPod,
  PolicyRule,
  PortRange,
  ResolvedPolicy,
  ResolvedRule,
} from "./types.ts";

/** "ns/name" of a pod or policy. */
export const keyOf = (o: { namespace: string; name: string }): string => `${o.namespace}/${o.name}`;

/** Text of one peer for explain and rule comments. */
export function peerText(p: PolicyPeer): string {
  if (p.ipBlock) {
    const ex = p.ipBlock.except.length ? ` except ${p.ipBlock.except.join(",")}` : "";
    return `ipBlock ${p.ipBlock.cidr}${ex}`;
  }
  const parts: string[] = [];
  if (p.namespaceSelector) parts.push(`namespaces ${selectorText(p.namespaceSelector)}`);
  if (p.podSelector) parts.push(`pods ${selectorText(p.podSelector)}`);
  return parts.join(" and ");
}

/** Text of a rule: "from <peers> to ports <ports>". */
export function ruleText(r: PolicyRule, dir: Direction): string {
  const peers = r.peers.length === 0 ? "anywhere" : r.peers.map(peerText).join(" | ");
  const ports = r.ports.length === 0
    ? "any port"
    : r.ports.map((p) =>
      `${p.port ?? "*"}${p.endPort !== undefined ? `-${p.endPort}` : ""}/${p.protocol}`
    ).join(",");
  return `${dir === "ingress" ? "from" : "to"} ${peers} on ${ports}`;
}

interface Index {
  byNamespace: Map<string, PolicyPod[]>;
  nsLabels: Map<string, Record<string, string>>;
  all: PolicyPod[];
  /** Parsed addresses per pod, per pass. */
  ivs: Map<PolicyPod, { family: Family; iv: Interval<bigint> }[]>;
  /** Resolved selector peers by "<policy ns>|<peer JSON>": many rules share a peer. */
  peers: Map<string, { pods: PolicyPod[]; set: AddressSet }>;
  /** Namespaces by namespace selector JSON. */
  nsSel: Map<string, string[]>;
}

function buildIndex(input: PolicyInput): Index {
  const byNamespace = new Map<string, PolicyPod[]>();
  for (const p of input.pods) {
    let l = byNamespace.get(p.namespace);
    if (!l) byNamespace.set(p.namespace, l = []);
    l.push(p);
  }
  const nsLabels = new Map<string, Record<string, string>>();
  for (const n of input.namespaces) nsLabels.set(n.name, n.labels);
  return {
    byNamespace,
    nsLabels,
    all: [...input.pods],
    ivs: new Map(),
    peers: new Map(),
    nsSel: new Map(),
  };
}

/** Pods a peer (selectors only) stands for; hostNetwork pods are the node, never a peer. */
function peerPods(ix: Index, policyNs: string, p: PolicyPeer): PolicyPod[] {
  let namespaces: string[];
  if (p.namespaceSelector) {
    const sel = p.namespaceSelector;
    const k = JSON.stringify(sel);
    let hit = ix.nsSel.get(k);
    if (!hit) {
      hit = [...ix.byNamespace.keys()].filter((n) =>
        selects(sel, ix.nsLabels.get(n) ?? { "kubernetes.io/metadata.name": n })
      );
      ix.nsSel.set(k, hit);
    }
    namespaces = hit;
  } else namespaces = [policyNs];
  const out: PolicyPod[] = [];
  for (const n of namespaces) {
    for (const pod of ix.byNamespace.get(n) ?? []) {
      if (!pod.hostNetwork && (!p.podSelector || selects(p.podSelector, pod.labels))) out.push(pod);
    }
  }
  return out;
}

function podIvs(ix: Index, pod: PolicyPod): { family: Family; iv: Interval<bigint> }[] {
  let l = ix.ivs.get(pod);
  if (!l) {
    l = pod.ips.map(addressInterval);
    ix.ivs.set(pod, l);
  }
  return l;
}

function addPodIps(ix: Index, set: AddressSet, pods: PolicyPod[]): void {
  const v4: Interval<bigint>[] = [];
  const v6: Interval<bigint>[] = [];
  for (const pod of pods) {
    for (const { family, iv } of podIvs(ix, pod)) (family === 4 ? v4 : v6).push(iv);
  }
  unionInto(set, 4, v4);
  unionInto(set, 6, v6);
}

/** A selector peer resolved once per pass. */
function selectorPeer(
  ix: Index,
  policyNs: string,
  p: PolicyPeer,
): { pods: PolicyPod[]; set: AddressSet } {
  const k = `${p.namespaceSelector ? "*" : policyNs}|${JSON.stringify(p)}`;
  let hit = ix.peers.get(k);
  if (!hit) {
    const pods = peerPods(ix, policyNs, p);
    const set = emptyAddressSet();
    addPodIps(ix, set, pods);
    hit = { pods, set };
    ix.peers.set(k, hit);
  }
  return hit;
}

/** Named port triples: `name` resolved on each of `pods`. */
function namedOn(pods: PolicyPod[], name: string, protocol: PortRange["protocol"]): AddressPort[] {
  const out: AddressPort[] = [];
  for (const pod of pods) {
    const np = pod.ports.find((x) => x.name === name && x.protocol === protocol);
    if (!np) continue;
    for (const ip of pod.ips) {
      const a = parseIp(ip);
      out.push({ family: a.family as Family & (4 | 6), address: a.value, protocol, port: np.port });
    }
  }
  return out;
}

function resolveRule(
  ix: Index,
  pol: NetworkPolicy,
  selected: PolicyPod[],
  dir: Direction,
  index: number,
  r: PolicyRule,
): ResolvedRule {
  const peers = emptyAddressSet();
  const podsOfPeers: PolicyPod[] = [];
  for (const p of r.peers) {
    if (p.ipBlock) {
      const { family, iv } = cidrInterval(p.ipBlock.cidr);
      const ex = mergeIntervals(
        p.ipBlock.except.map(cidrInterval).filter((e) => e.family === family).map((e) => e.iv),
      );
      unionInto(peers, family, subtractIntervals([iv], ex));
    } else {
      const hit = selectorPeer(ix, pol.namespace, p);
      if (r.ports.some((x) => typeof x.port === "string")) podsOfPeers.push(...hit.pods);
      unionInto(peers, 4, hit.set.v4);
      unionInto(peers, 6, hit.set.v6);
    }
  }
  const anyPeer = r.peers.length === 0;
  const ports: PortRange[] = [];
  const namedPorts: AddressPort[] = [];
  for (const p of r.ports) {
    if (typeof p.port === "string") {
      // The name is looked up on the destination: the selected pods for
      // ingress, the peer pods for egress (every pod when the peer is anyone).
      const dst = dir === "ingress"
        ? selected
        : anyPeer
        ? ix.all.filter((x) => !x.hostNetwork)
        : podsOfPeers;
      namedPorts.push(...namedOn(dst, p.port, p.protocol));
    } else if (p.port === undefined) ports.push({ protocol: p.protocol, lo: 0, hi: 65535 });
    else ports.push({ protocol: p.protocol, lo: p.port, hi: p.endPort ?? p.port });
  }
  return {
    key: `${pol.namespace}/${pol.name}/${dir}/${index}`,
    policy: keyOf(pol),
    direction: dir,
    index,
    anyPeer,
    peers,
    anyPort: r.ports.length === 0,
    ports,
    namedPorts,
    hasNamed: r.ports.some((p) => typeof p.port === "string"),
    text: ruleText(r, dir),
  };
}

/** Options of `resolvePolicies`. */
export interface ResolveOptions {
  /**
   * Resolve only what this node's compiler needs: selection among this node's
   * pods, and the rules of policies selecting one of them. The model is then
   * for that node's enforcement only, not for explain.
   */
  node?: string;
}

/** Resolves the policies against the pods and namespaces. */
export function resolvePolicies(input: PolicyInput, opts: ResolveOptions = {}): PolicyModel {
  const ix = buildIndex(input);
  const pods = new Map<string, PolicyPod>();
  const podKey = new Map<PolicyPod, string>();
  for (const p of input.pods) {
    const k = keyOf(p);
    pods.set(k, p);
    podKey.set(p, k);
  }
  const isolation: PolicyModel["isolation"] = new Map();
  const policies: ResolvedPolicy[] = [];
  const keyed = input.policies.map((p) => ({ key: keyOf(p), pol: p }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { key, pol } of keyed) {
    // Scoped to a node, only that node's pods are candidates: the node's table
    // isolates and names ports only on its own pods.
    const selectedPods = (ix.byNamespace.get(pol.namespace) ?? []).filter((p) =>
      !p.hostNetwork && (opts.node === undefined || p.nodeName === opts.node) &&
      selects(pol.podSelector, p.labels)
    );
    const selected = selectedPods.map((p) => podKey.get(p)!);
    for (const k of selected) {
      let iso = isolation.get(k);
      if (!iso) isolation.set(k, iso = { ingress: [], egress: [] });
      if (pol.ingressIsolation) iso.ingress.push(key);
      if (pol.egressIsolation) iso.egress.push(key);
    }
    const wanted = opts.node === undefined || selectedPods.length > 0;
    policies.push({
      key,
      policy: pol,
      selected,
      ingress: pol.ingressIsolation && wanted
        ? pol.ingress.map((r, i) => resolveRule(ix, pol, selectedPods, "ingress", i, r))
        : [],
      egress: pol.egressIsolation && wanted
        ? pol.egress.map((r, i) => resolveRule(ix, pol, selectedPods, "egress", i, r))
        : [],
    });
  }
  return { policies, pods, isolation, ...(opts.node !== undefined ? { scope: opts.node } : {}) };
}
