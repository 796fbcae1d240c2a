/**
 * Projection at ingest: raw Pod, Namespace and NetworkPolicy objects (from
 * the API server or YAML files) to the few fields policy needs, validated.
 * A malformed rule is dropped and reported, which only ever allows less
 * (fail closed); a policy whose pod selector cannot be read is rejected.
 * @module
 */
import { isIp, normalizeIp } from "../../net/address.ts";
import { isCidr, normalizeCidr } from "../../net/cidr.ts";
import type {
  LabelSelector,
  NamedPort,
  NetworkPolicy,
  PolicyNamespace,
  PolicyPeer,
  PolicyPod,
  PolicyPort,
  PolicyRule,
  Protocol,
  SelectorRequirement,
} from "./types.ts";

/** A projection and what could not be read. */
export interface Projected<T> {
  value?: T;
  errors: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

function meta(o: unknown): { name?: string; namespace?: string; labels: Record<string, string> } {
  const m = isObj(o) && isObj(o.metadata) ? o.metadata : {};
  return { name: str(m.name), namespace: str(m.namespace), labels: labelsOf(m.labels) };
}

const OPERATORS = new Set(["In", "NotIn", "Exists", "DoesNotExist"]);

/** Reads a LabelSelector; throws with a reason when malformed. */
export function parseSelector(v: unknown, where: string): LabelSelector {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new Error(`${where} is not an object`);
  const sel: LabelSelector = {};
  if (v.matchLabels !== undefined) {
    if (!isObj(v.matchLabels)) throw new Error(`${where}.matchLabels is not a map`);
    sel.matchLabels = labelsOf(v.matchLabels);
  }
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) {
      throw new Error(`${where}.matchExpressions is not a list`);
    }
    sel.matchExpressions = v.matchExpressions.map((e, i): SelectorRequirement => {
      if (!isObj(e) || typeof e.key !== "string" || !OPERATORS.has(String(e.operator))) {
        throw new Error(`${where}.matchExpressions[${i}] needs a key and an operator`);
      }
      const values = arr(e.values).filter((x): x is string => typeof x === "string");
      const op = e.operator as SelectorRequirement["operator"];
      if ((op === "In" || op === "NotIn") && values.length === 0) {
        throw new Error(`${where}.matchExpressions[${i}] (${op}) needs values`);
      }
      return { key: e.key, operator: op, ...(values.length ? { values } : {}) };
    });
  }
  return sel;
}

function parseProtocol(v: unknown, where: string): Protocol {
  const p = v === undefined ? "TCP" : String(v).toUpperCase();
  if (p !== "TCP" && p !== "UDP" && p !== "SCTP") {
    throw new Error(`${where}: unknown protocol ${String(v)}`);
  }
  return p;
}

function validPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function parsePort(v: unknown, where: string): PolicyPort {
  if (!isObj(v)) throw new Error(`${where} is not an object`);
  const protocol = parseProtocol(v.protocol, where);
  const out: PolicyPort = { protocol };
  let port = v.port;
  if (port !== undefined && port !== null) {
    if (typeof port === "string" && /^[0-9]+$/.test(port)) port = Number(port);
    if (typeof port === "string") {
      if (!/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/.test(port)) {
        throw new Error(`${where}.port ${JSON.stringify(port)} is not a port name`);
      }
      out.port = port;
    } else if (validPort(port)) out.port = port;
    else throw new Error(`${where}.port ${JSON.stringify(port)} is not a port`);
  }
  if (v.endPort !== undefined && v.endPort !== null) {
    if (typeof out.port !== "number" || !validPort(v.endPort) || v.endPort < out.port) {
      throw new Error(`${where}.endPort needs a numeric port not above it`);
    }
    out.endPort = v.endPort;
  }
  return out;
}

function parsePeer(v: unknown, where: string): PolicyPeer {
  if (!isObj(v)) throw new Error(`${where} is not an object`);
  if (v.ipBlock !== undefined) {
    if (v.podSelector !== undefined || v.namespaceSelector !== undefined) {
      throw new Error(`${where}: ipBlock cannot be combined with selectors`);
    }
    const b = v.ipBlock;
    if (!isObj(b) || typeof b.cidr !== "string" || !isCidr(b.cidr)) {
      throw new Error(`${where}.ipBlock.cidr is not a CIDR`);
    }
    const except = arr(b.except).map((e, i) => {
      if (typeof e !== "string" || !isCidr(e)) {
        throw new Error(`${where}.ipBlock.except[${i}] is not a CIDR`);
      }
      return normalizeCidr(e);
    });
    return { ipBlock: { cidr: normalizeCidr(b.cidr), except } };
  }
  if (v.podSelector === undefined && v.namespaceSelector === undefined) {
    throw new Error(`${where} names no podSelector, namespaceSelector or ipBlock`);
  }
  const peer: PolicyPeer = {};
  if (v.podSelector !== undefined) {
    peer.podSelector = parseSelector(v.podSelector, `${where}.podSelector`);
  }
  if (v.namespaceSelector !== undefined) {
    peer.namespaceSelector = parseSelector(v.namespaceSelector, `${where}.namespaceSelector`);
  }
  return peer;
}

function parseRules(v: unknown, dir: "ingress" | "egress", errors: string[]): PolicyRule[] {
  const peerKey = dir === "ingress" ? "from" : "to";
  const out: PolicyRule[] = [];
  arr(v).forEach((r, i) => {
    const where = `spec.${dir}[${i}]`;
    try {
      if (!isObj(r)) throw new Error(`${where} is not an object`);
      const peers = arr(r[peerKey]).map((p, j) => parsePeer(p, `${where}.${peerKey}[${j}]`));
      const ports = arr(r.ports).map((p, j) => parsePort(p, `${where}.ports[${j}]`));
      out.push({ peers, ports });
    } catch (e) {
      errors.push(`${(e as Error).message}; rule dropped`);
    }
  });
  return out;
}

/** Projects a NetworkPolicy (networking.k8s.io/v1). */
export function projectPolicy(o: unknown): Projected<NetworkPolicy> {
  const errors: string[] = [];
  const m = meta(o);
  const spec = isObj(o) && isObj(o.spec) ? o.spec : undefined;
  if (!m.name || !spec) return { errors: ["NetworkPolicy needs metadata.name and spec"] };
  const namespace = m.namespace ?? "default";
  let podSelector: LabelSelector;
  try {
    podSelector = parseSelector(spec.podSelector, "spec.podSelector");
  } catch (e) {
    return { errors: [`${namespace}/${m.name}: ${(e as Error).message}`] };
  }
  const types = Array.isArray(spec.policyTypes) ? spec.policyTypes.map(String) : undefined;
  const hasEgress = arr(spec.egress).length > 0;
  const policy: NetworkPolicy = {
    namespace,
    name: m.name,
    podSelector,
    ingressIsolation: types ? types.includes("Ingress") : true,
    egressIsolation: types ? types.includes("Egress") : hasEgress,
    ingress: parseRules(spec.ingress, "ingress", errors),
    egress: parseRules(spec.egress, "egress", errors),
  };
  return { value: policy, errors: errors.map((e) => `${namespace}/${m.name}: ${e}`) };
}

/** Projects a Namespace; adds the kubernetes.io/metadata.name label the API server sets. */
export function projectNamespace(o: unknown): Projected<PolicyNamespace> {
  const m = meta(o);
  if (!m.name) return { errors: ["Namespace needs metadata.name"] };
  return {
    value: { name: m.name, labels: { ...m.labels, "kubernetes.io/metadata.name": m.name } },
    errors: [],
  };
}

/** Projects a Pod: IPs only while it runs (a finished pod's address may be reused). */
export function projectPod(o: unknown): Projected<PolicyPod> {
  const m = meta(o);
  if (!m.name || !isObj(o)) return { errors: ["Pod needs metadata.name"] };
  const spec = isObj(o.spec) ? o.spec : {};
  const status = isObj(o.status) ? o.status : {};
  const phase = str(status.phase);
  const done = phase === "Succeeded" || phase === "Failed";
  const raw = arr(status.podIPs).map((x) => (isObj(x) ? str(x.ip) : undefined));
  if (raw.length === 0 && typeof status.podIP === "string") raw.push(status.podIP);
  const ips = done
    ? []
    : [...new Set(raw.filter((x): x is string => !!x && isIp(x)).map(normalizeIp))];
  const ports: NamedPort[] = [];
  for (const c of [...arr(spec.initContainers), ...arr(spec.containers)]) {
    for (const p of isObj(c) ? arr(c.ports) : []) {
      if (!isObj(p) || typeof p.name !== "string" || !validPort(p.containerPort)) continue;
      try {
        ports.push({
          name: p.name,
          port: p.containerPort,
          protocol: parseProtocol(p.protocol, "port"),
        });
      } catch { /* an unknown protocol names no port policy can use */ }
    }
  }
  return {
    value: {
      namespace: m.namespace ?? "default",
      name: m.name,
      labels: m.labels,
      ips,
      nodeName: str(spec.nodeName) ?? "",
      hostNetwork: spec.hostNetwork === true,
      ports,
    },
    errors: [],
  };
}
