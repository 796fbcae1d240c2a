/**
 * The option table of `hostgate-agent`: every flag with its environment
 * variable, default and help, and the help texts generated from it. One
 * table for parsing and help, so they cannot disagree.
 * @module
 */
import type { AgentConfig, Command } from "./agent_config.ts";

/** One option: flag name, env fallback, default, help, and the subcommands taking it. */
export interface OptionSpec {
  key: keyof AgentConfig;
  flag: string;
  env?: string;
  def: string;
  help: string;
  /** Subcommands that accept it; all when absent. */
  only?: Command[];
  boolean?: boolean;
}

const ALL_DS: Command[] = ["run", "install", "status"];

/** The option table: flag, env fallback, default, help. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: "nodeName",
    flag: "node-name",
    env: "NODE_NAME",
    def: "",
    help: "this node's name (default: hostname)",
  },
  {
    key: "datastore",
    flag: "datastore",
    env: "DATASTORE",
    def: "kubernetes",
    help: "kubernetes | etcd | file",
    only: ALL_DS,
  },
  {
    key: "clusterCidrs",
    flag: "cluster-cidr",
    env: "CLUSTER_CIDR",
    def: "10.244.0.0/16",
    help: "pod network, one CIDR per family, comma separated",
  },
  {
    key: "serviceCidrs",
    flag: "service-cidr",
    env: "SERVICE_CIDR",
    def: "10.96.0.0/12",
    help: "service ranges, comma separated: never a peer route or gateway (empty: none)",
  },
  {
    key: "nodePrefixLengthV4",
    flag: "node-cidr-mask-size-ipv4",
    env: "NODE_CIDR_MASK_SIZE_IPV4",
    def: "24",
    help: "prefix of a node's IPv4 pod subnet",
    only: ALL_DS,
  },
  {
    key: "nodePrefixLengthV6",
    flag: "node-cidr-mask-size-ipv6",
    env: "NODE_CIDR_MASK_SIZE_IPV6",
    def: "64",
    help: "prefix of a node's IPv6 pod subnet",
    only: ALL_DS,
  },
  {
    key: "nodeIps",
    flag: "node-ip",
    env: "NODE_IP",
    def: "",
    help: "this node's IPs, comma separated (default: addresses of the default route's link)",
  },
  {
    key: "iface",
    flag: "iface",
    env: "HOSTGATE_IFACE",
    def: "",
    help: "uplink interface for node IP and MTU detection",
  },
  {
    key: "cniBinDir",
    flag: "cni-bin-dir",
    env: "CNI_BIN_DIR",
    def: "/opt/cni/bin",
    help: "where the plugin binary is installed",
  },
  {
    key: "cniConfDir",
    flag: "cni-conf-dir",
    env: "CNI_CONF_DIR",
    def: "/etc/cni/net.d",
    help: "where the conflist is written",
  },
  {
    key: "conflistName",
    flag: "conflist-name",
    env: "CNI_CONFLIST_NAME",
    def: "10-hostgate.conflist",
    help: "conflist file name",
  },
  {
    key: "networkName",
    flag: "network-name",
    env: "CNI_NETWORK_NAME",
    def: "hostgate",
    help: "network name in the conflist (IPAM data subdirectory)",
  },
  {
    key: "pluginSrc",
    flag: "plugin-src",
    env: "HOSTGATE_PLUGIN_SRC",
    def: "",
    help: "plugin binary to install (default: 'hostgate' beside this program)",
    only: ["run", "install"],
  },
  {
    key: "installPlugin",
    flag: "install-plugin",
    env: "HOSTGATE_INSTALL_PLUGIN",
    def: "true",
    help:
      "run: copy the plugin into --cni-bin-dir and put it back when it goes; false where only an install init container may write there (then it is only checked, for /readyz)",
    boolean: true,
    only: ["run"],
  },
  {
    key: "extraPlugins",
    flag: "extra-plugins",
    env: "HOSTGATE_EXTRA_PLUGINS",
    def: "",
    help: "more plugin binaries to copy into --cni-bin-dir, comma separated",
    only: ["run", "install"],
  },
  {
    key: "ipamDir",
    flag: "ipam-dir",
    env: "HOSTGATE_IPAM_DIR",
    def: "/run/hostgate/ipam",
    help: "IPAM data dir (written into the conflist when not the default)",
  },
  {
    key: "podMode",
    flag: "pod-mode",
    env: "HOSTGATE_POD_MODE",
    def: "routed",
    help:
      "routed (a veth per pod with host routes and a link-local gateway, no bridge) | bridge (pods on --bridge)",
  },
  {
    key: "bridge",
    flag: "bridge",
    env: "HOSTGATE_BRIDGE",
    def: "hostgate0",
    help: "pod bridge name",
  },
  {
    key: "mtu",
    flag: "mtu",
    env: "HOSTGATE_MTU",
    def: "0",
    help: "pod MTU; 0 = the uplink's MTU (minus 50 with --backend vxlan or auto)",
  },
  {
    key: "backend",
    flag: "backend",
    env: "BACKEND",
    def: "host-gw",
    help:
      "host-gw (direct routes, one L2 segment) | vxlan (every peer through the tunnel) | auto (direct when on-link, else vxlan)",
  },
  {
    key: "vxlanVni",
    flag: "vxlan-vni",
    env: "HOSTGATE_VXLAN_VNI",
    def: "1",
    help: "VXLAN network identifier (vxlan, auto)",
  },
  {
    key: "vxlanPort",
    flag: "vxlan-port",
    env: "HOSTGATE_VXLAN_PORT",
    def: "8472",
    help: "VXLAN UDP port (vxlan, auto)",
  },
  {
    key: "vxlanDevice",
    flag: "vxlan-device",
    env: "HOSTGATE_VXLAN_DEVICE",
    def: "",
    help: "VXLAN device name (default hostgate.<vni>)",
  },
  {
    key: "manageBridge",
    flag: "manage-bridge",
    env: "HOSTGATE_MANAGE_BRIDGE",
    def: "true",
    help: "create the bridge with its gateway address before the first pod (--pod-mode bridge)",
    boolean: true,
    only: ["run"],
  },
  {
    key: "masquerade",
    flag: "masquerade",
    env: "HOSTGATE_MASQUERADE",
    def: "true",
    help: "masquerade pod traffic leaving the cluster CIDR",
    boolean: true,
  },
  {
    key: "networkPolicy",
    flag: "network-policy",
    env: "HOSTGATE_NETWORK_POLICY",
    def: "true",
    help:
      "enforce NetworkPolicy in nftables table inet hostgate-policy (kubernetes and file datastores)",
    boolean: true,
    only: ["run", "install", "status"],
  },
  {
    key: "firewallBackend",
    flag: "firewall-backend",
    env: "FIREWALL_BACKEND",
    def: "auto",
    help: "auto | iptables-legacy | iptables-nft | nftables | none",
  },
  {
    key: "pluginSocket",
    flag: "plugin-socket",
    env: "HOSTGATE_PLUGIN_SOCKET",
    def: "",
    help:
      "run: serve plugin calls on this unix socket and name it in the conflist (the plugin then relays its calls here and runs them itself only when nobody listens); empty disables",
    only: ["run", "install"],
  },
  {
    key: "healthAddr",
    flag: "health-addr",
    env: "HEALTH_ADDR",
    def: "127.0.0.1:9099",
    help: "host:port of /healthz /readyz /metrics; empty disables",
    only: ["run"],
  },
  {
    key: "resyncIntervalMs",
    flag: "resync-interval",
    env: "RESYNC_INTERVAL",
    def: "30s",
    help: "periodic full resync",
    only: ["run"],
  },
  {
    key: "debounceMs",
    flag: "debounce",
    env: "HOSTGATE_DEBOUNCE",
    def: "10ms",
    help: "delay collapsing bursts of change events",
    only: ["run"],
  },
  {
    key: "retryMinMs",
    flag: "retry-min",
    env: "HOSTGATE_RETRY_MIN",
    def: "500ms",
    help: "first retry delay after a failure",
    only: ["run"],
  },
  {
    key: "retryMaxMs",
    flag: "retry-max",
    env: "HOSTGATE_RETRY_MAX",
    def: "30s",
    help: "longest retry delay (exponential backoff)",
    only: ["run"],
  },
  {
    key: "timeoutMs",
    flag: "timeout",
    env: "HOSTGATE_TIMEOUT",
    def: "60s",
    help: "how long to wait for the datastore",
    only: ["install", "status"],
  },
  {
    key: "logLevel",
    flag: "log-level",
    env: "LOG_LEVEL",
    def: "info",
    help: "debug | info | warn | error",
  },
  {
    key: "logFormat",
    flag: "log-format",
    env: "LOG_FORMAT",
    def: "text",
    help: "text | json (stderr)",
  },
  {
    key: "kubeconfig",
    flag: "kubeconfig",
    env: "KUBECONFIG",
    def: "",
    help: "kubeconfig path (default: in-cluster)",
    only: ALL_DS,
  },
  {
    key: "kubeList",
    flag: "kube-list",
    env: "KUBE_LIST",
    def: "paged",
    help: "how the kubernetes datastore lists: paged (LIST with limit/continue) | watch-list " +
      "(streaming sendInitialEvents; paged where the API server refuses it)",
    only: ALL_DS,
  },
  {
    key: "namespace",
    flag: "namespace",
    env: "POD_NAMESPACE",
    def: "kube-system",
    help: "namespace of the subnet ConfigMap",
    only: ALL_DS,
  },
  {
    key: "etcdEndpoints",
    flag: "etcd-endpoints",
    env: "ETCD_ENDPOINTS",
    def: "http://127.0.0.1:2379",
    help: "etcd URLs, comma separated",
    only: ALL_DS,
  },
  {
    key: "etcdPrefix",
    flag: "etcd-prefix",
    env: "ETCD_PREFIX",
    def: "/hostgate",
    help: "etcd key prefix",
    only: ALL_DS,
  },
  {
    key: "storeDir",
    flag: "store-dir",
    env: "HOSTGATE_STORE_DIR",
    def: "/run/hostgate/cluster",
    help: "file datastore directory (shared by the nodes of one machine)",
    only: ALL_DS,
  },
  {
    key: "ippoolKubeconfig",
    flag: "ippool-kubeconfig",
    env: "HOSTGATE_IPPOOL_KUBECONFIG",
    def: "",
    help:
      "write a kubeconfig for the plugin's hostgate-ippool IPAM here (service account token, mode 0600; run keeps it fresh); empty: none",
    only: ["run", "install", "status"],
  },
  {
    key: "ipam",
    flag: "ipam",
    env: "HOSTGATE_IPAM",
    def: "local",
    help:
      "local (hostgate-local: each node's pod subnet) | ippool (hostgate-ippool: a cluster-wide IPPool; kubernetes datastore only; routes every pod address)",
  },
  {
    key: "ippoolName",
    flag: "ippool-name",
    env: "HOSTGATE_IPPOOL",
    def: "default",
    help: "IPPool the conflist names with --ipam ippool",
  },
  { key: "json", flag: "json", def: "false", help: "print JSON", boolean: true, only: ["status"] },
  {
    key: "binaryOnly",
    flag: "binary-only",
    env: "HOSTGATE_BINARY_ONLY",
    def: "false",
    help: "copy binaries only; skip the datastore and conflist",
    boolean: true,
    only: ["install"],
  },
];

export const DESCRIPTIONS: Record<Command, string> = {
  run:
    "the daemon: routes to every other node's pod subnet, FORWARD/MASQUERADE rules, plugin and conflist install, /healthz /readyz /metrics",
  install: "copy the plugin binary and write the conflist once (for an init container)",
  uninstall:
    "remove hostgate's routes (protocol 151), its vxlan device, chains and jumps, and the conflist",
  status: "print this node's subnet, peers, each peer route, rules and IPs in use",
};

/** The subcommand names with their one-line descriptions, for the top-level help. */
export function commandHelp(): string {
  return [
    "Usage: hostgate-agent <command> [flags]",
    "",
    "Commands:",
    ...Object.entries(DESCRIPTIONS).map(([c, d]) => `  ${c.padEnd(10)} ${d}`),
    `  ${
      "policy".padEnd(10)
    } explain --from NS/POD --to NS/POD --port N/PROTO: which NetworkPolicy rule allows or denies`,
    "",
    "Run 'hostgate-agent <command> --help' for its flags.",
  ].join("\n");
}

/** Help of one subcommand: every flag with its env variable and default. */
export function usage(command: Command): string {
  const rows = OPTIONS.filter((o) => !o.only || o.only.includes(command)).map((o) => {
    const left = `  --${o.flag}${o.boolean ? "[=bool]" : "=VALUE"}`;
    const env = o.env ? ` [env ${o.env}]` : "";
    const def = o.def === "" ? "" : ` (default ${o.def})`;
    return `${left.padEnd(36)} ${o.help}${env}${def}`;
  });
  return [
    `Usage: hostgate-agent ${command} [flags]`,
    "",
    DESCRIPTIONS[command],
    "",
    "Flags (each falls back to its environment variable, then to its default):",
    ...rows,
    `  ${"--help".padEnd(34)} this text`,
  ].join("\n");
}
