/**
 * The shape of the agent's configuration, apart from its parser: every agent
 * folder reads `AgentConfig` (as a type only), and the option table
 * (options.ts) and the parser (config.ts) both build on it without importing
 * each other in a circle.
 * @module
 */

/** The subcommands. */
export type Command = "run" | "install" | "uninstall" | "status";
/** Where node information comes from. */
export type DatastoreKind = "kubernetes" | "etcd" | "file";
/**
 * How peers are reached: direct routes (one L2 segment), VXLAN for every
 * peer, or direct where the peer is on-link and VXLAN elsewhere.
 */
export type Backend = "host-gw" | "vxlan" | "auto";
/** Which IPAM the conflist names: node-local subnets, or a cluster-wide IPPool. */
export type IpamMode = "local" | "ippool";
/** How rules are written: iptables flavours, native nftables, or not at all. */
export type FirewallBackendName = "auto" | "iptables-legacy" | "iptables-nft" | "nftables" | "none";

/** Everything the agent is told. Durations are milliseconds. */
export interface AgentConfig {
  command: Command;
  nodeName: string;
  datastore: DatastoreKind;
  /** One CIDR per family, canonical. */
  clusterCidrs: string[];
  /** Service ranges, canonical: the trust gate keeps peer routes and gateways out of them. */
  serviceCidrs: string[];
  nodePrefixLengthV4: number;
  nodePrefixLengthV6: number;
  /** This node's IPs; empty means detect from the default route's link. */
  nodeIps: string[];
  /** Uplink name; empty means detect. */
  iface: string;
  cniBinDir: string;
  cniConfDir: string;
  conflistName: string;
  networkName: string;
  /** The plugin binary to install; empty means "hostgate" beside the agent. */
  pluginSrc: string;
  /** More plugin binaries to copy into cniBinDir (e.g. /usr/lib/cni/portmap). */
  extraPlugins: string[];
  ipamDir: string;
  /** How the plugin wires pods: "routed" (default) or "bridge". */
  podMode: "routed" | "bridge";
  bridge: string;
  /** Conflist MTU; 0 means the uplink's MTU (minus the VXLAN overhead when it can be used). */
  mtu: number;
  backend: Backend;
  /** VXLAN network identifier. */
  vxlanVni: number;
  /** VXLAN UDP port. */
  vxlanPort: number;
  /** VXLAN device name ("hostgate.<vni>" unless named). */
  vxlanDevice: string;
  manageBridge: boolean;
  masquerade: boolean;
  /** Enforce NetworkPolicy (needs a datastore that offers policy inputs). */
  networkPolicy: boolean;
  firewallBackend: FirewallBackendName;
  /** host:port, or "" to serve nothing. */
  healthAddr: string;
  /** Unix socket where the agent runs plugin calls (src/plugin/remote/), or "" for none. */
  pluginSocket: string;
  resyncIntervalMs: number;
  debounceMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** How long install/status wait for the datastore. */
  timeoutMs: number;
  logLevel: "debug" | "info" | "warn" | "error";
  logFormat: "text" | "json";
  kubeconfig: string;
  /** How the kubernetes datastore reads the initial state and relists. */
  kubeList: "paged" | "watch-list";
  namespace: string;
  etcdEndpoints: string[];
  etcdPrefix: string;
  storeDir: string;
  /** status: print JSON instead of a table. */
  json: boolean;
  /** install: only copy binaries, do not contact the datastore. */
  binaryOnly: boolean;
  /**
   * run: copy the plugin at start and repair it (true), or only check it is
   * there (false: the DaemonSet's install init container alone writes /opt/cni/bin).
   */
  installPlugin: boolean;
  /** IPAM of the conflist: hostgate-local (default) or hostgate-ippool. */
  ipam: IpamMode;
  /** IPPool named in the conflist when `ipam` is "ippool". */
  ippoolName: string;
  /** run/install: where to write the plugin's kubeconfig for hostgate-ippool; "" or absent: none. */
  ippoolKubeconfig?: string;
  /** The in-cluster API URL (KUBERNETES_SERVICE_HOST/PORT) written into that kubeconfig. */
  kubernetesApi?: string;
  help: boolean;
}
