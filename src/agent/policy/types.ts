/**
 * The vocabulary of NetworkPolicy enforcement: the projections of Pods,
 * Namespaces and NetworkPolicies (only what policy needs, validated at
 * ingest), and the resolved model that both the nft compiler and the
 * explain evaluator read, so the two cannot disagree.
 * @module
 */

/** Transport protocols a NetworkPolicy port can name. */
export type Protocol = "TCP" | "UDP" | "SCTP";
/** The protocols, in their canonical order. */
export const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP", "SCTP"];

/** Label selector as Kubernetes writes it (metav1.LabelSelector). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: SelectorRequirement[];
}

/** One matchExpressions entry. */
export interface SelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

/** A container port a named NetworkPolicy port can refer to. */
export interface NamedPort {
  name: string;
  port: number;
  protocol: Protocol;
}

/** What policy needs of a Pod. */
export interface PolicyPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Pod IPs (canonical), empty while the pod has none. */
  ips: string[];
  /** Node the pod is scheduled to ("" when unscheduled). */
  nodeName: string;
  /** A hostNetwork pod shares its node's addresses and is treated as the node. */
  hostNetwork: boolean;
  /** Named container ports. */
  ports: NamedPort[];
}

/** What policy needs of a Namespace. */
export interface PolicyNamespace {
  name: string;
  labels: Record<string, string>;
}

/** A port of a rule: numeric (with optional endPort) or named. */
export interface PolicyPort {
  protocol: Protocol;
  /** Number, name, or undefined for every port of the protocol. */
  port?: number | string;
  /** Last port of a range (only with a numeric port). */
  endPort?: number;
}

/** An ipBlock peer. */
export interface IpBlock {
  cidr: string;
  except: string[];
}

/** One peer of a rule: pods by selector(s), or an ipBlock. */
export interface PolicyPeer {
  /** Undefined means "pods of the policy's namespace" unless namespaceSelector is set. */
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IpBlock;
}

/** One ingress or egress rule: peers (empty = everyone) and ports (empty = every port). */
export interface PolicyRule {
  peers: PolicyPeer[];
  ports: PolicyPort[];
}

/** What policy needs of a NetworkPolicy. */
export interface NetworkPolicy {
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  /** The directions the policy isolates. */
  ingressIsolation: boolean;
  egressIsolation: boolean;
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

/** Everything policy is computed from. */
export interface PolicyInput {
  policies: readonly NetworkPolicy[];
  pods: readonly PolicyPod[];
  namespaces: readonly PolicyNamespace[];
}

/** Direction of a rule or an isolation. */
export type Direction = "ingress" | "egress";

/** An inclusive numeric interval (addresses as bigint, ports as number). */
export interface Interval<T> {
  lo: T;
  hi: T;
}

/** Addresses of both families as sorted, merged, disjoint intervals. */
export interface AddressSet {
  v4: Interval<bigint>[];
  v6: Interval<bigint>[];
}

/** A resolved port match: a protocol and a port interval (0-65535 when every port). */
export interface PortRange {
  protocol: Protocol;
  lo: number;
  hi: number;
}

/** A named port resolved on one destination address. */
export interface AddressPort {
  family: 4 | 6;
  address: bigint;
  protocol: Protocol;
  port: number;
}

/**
 * One rule, resolved against the current pods and namespaces. A packet
 * matches when its peer address is in `peers` (or `anyPeer`) and, when
 * `anyPort` is false, its (protocol, port) is in `ports` or its
 * (destination, protocol, port) is in `namedPorts`.
 */
export interface ResolvedRule {
  /** Stable key: "<ns>/<name>/<direction>/<index>". */
  key: string;
  policy: string;
  direction: Direction;
  index: number;
  anyPeer: boolean;
  peers: AddressSet;
  anyPort: boolean;
  ports: PortRange[];
  namedPorts: AddressPort[];
  /** True when the spec names a port by name (its set exists even while empty). */
  hasNamed: boolean;
  /** Human text of the peers and ports, for explain and comments. */
  text: string;
}

/** A policy resolved: which pods it selects and its rules. */
export interface ResolvedPolicy {
  /** "<ns>/<name>". */
  key: string;
  policy: NetworkPolicy;
  /** Keys ("ns/name") of the selected pods (hostNetwork pods are never selected). */
  selected: string[];
  ingress: ResolvedRule[];
  egress: ResolvedRule[];
}

/** The resolved model: shared input of the compiler and the evaluator. */
export interface PolicyModel {
  policies: ResolvedPolicy[];
  /** Pods by "ns/name". */
  pods: Map<string, PolicyPod>;
  /** Per pod key and direction: the policies isolating it (sorted keys). */
  isolation: Map<string, { ingress: string[]; egress: string[] }>;
  /** Set when only one node's policies were resolved (not usable for explain). */
  scope?: string;
}
