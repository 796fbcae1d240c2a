/**
 * The agent's configuration: one table of options, each a flag with an
 * environment fallback (for a DaemonSet) and a default. Parsing is a pure
 * function of argv and an env record, so every knob is unit-tested and
 * `--help` is generated from the same table that parses.
 * @module
 */
import { serverSocketProblem } from "../../plugin/remote/server.ts";
import { parseFlags } from "./flags.ts";
import { familyOf, isCidr, isIp, normalizeCidr } from "../../net/mod.ts";
import { kubernetesServiceUrl } from "../../ipam/ippool/kubeconfig.ts";
import { OPTIONS, type OptionSpec } from "./options.ts";
import { parseHostPort } from "../observe/mod.ts";
import type { AgentConfig } from "./agent_config.ts";

/** The shortest resync interval accepted: a faster safety resync would only burn CPU. */
const MIN_RESYNC_INTERVAL_MS = 100;
/** Longest node subnet prefix per family: a node subnet needs a gateway and some pods. */
const MAX_NODE_PREFIX = { 4: 30, 6: 126 } as const;
/** Largest MTU of a link (16-bit field). */
const MAX_MTU = 65535;
/** Largest VXLAN network identifier (24 bits). */
const MAX_VNI = 2 ** 24 - 1;
/** Largest UDP port. */
const MAX_PORT = 65535;
/** A Linux interface name: 1 to 15 (IFNAMSIZ - 1) safe characters. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Raised for a bad flag or environment value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parses "30s", "500ms", "2m", "1h" or plain seconds into milliseconds. */
export function parseDuration(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new ConfigError(`Cannot parse flags: ${what} is not a duration: ${s}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return Math.round(Number(m[1]) * unit);
}

function parseBool(s: string, what: string): boolean {
  const v = s.trim().toLowerCase();
  if (["", "true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new ConfigError(`Cannot parse flags: ${what} is not a boolean: ${s}`);
}

function parseInt10(s: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(s.trim())) {
    throw new ConfigError(`Cannot parse flags: ${what} is not a number: ${s}`);
  }
  const n = Number(s);
  if (n < min || n > max) {
    throw new ConfigError(`Cannot parse flags: ${what} must be within ${min}..${max}: ${s}`);
  }
  return n;
}

function list(s: string): string[] {
  return s.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

function oneOf<T extends string>(s: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(s)) {
    throw new ConfigError(`Cannot parse flags: ${what} must be one of ${allowed.join(", ")}: ${s}`);
  }
  return s as T;
}

function clusterCidrs(s: string): string[] {
  const cidrs = list(s);
  if (cidrs.length === 0) throw new ConfigError("Cannot parse flags: --cluster-cidr is empty");
  const seen = new Set<number>();
  return cidrs.map((c) => {
    if (!isCidr(c)) throw new ConfigError(`Cannot parse flags: --cluster-cidr is not a CIDR: ${c}`);
    if (seen.has(familyOf(c))) {
      throw new ConfigError(`Cannot parse flags: --cluster-cidr has two IPv${familyOf(c)} CIDRs`);
    }
    seen.add(familyOf(c));
    return normalizeCidr(c);
  });
}

function serviceCidrs(s: string): string[] {
  return list(s).map((c) => {
    if (!isCidr(c)) throw new ConfigError(`Cannot parse flags: --service-cidr is not a CIDR: ${c}`);
    return normalizeCidr(c);
  });
}

/** Inputs of `parseConfig` besides argv, so the function stays pure. */
export interface ParseInputs {
  env: Record<string, string | undefined>;
  /** Default node name when neither --node-name nor NODE_NAME is set. */
  hostname: string;
}

/**
 * Parses `hostgate-agent <command> [flags]` (argv without the program name).
 * Precedence: flag, then environment variable, then default.
 */
export function parseConfig(argv: string[], inputs: ParseInputs): AgentConfig {
  const [cmd, ...rest] = argv;
  const command = oneOf(cmd ?? "", ["run", "install", "uninstall", "status"] as const, "command");
  const specs = OPTIONS.filter((o) => !o.only || o.only.includes(command));
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const o of specs) options[o.flag] = { type: "string" };
  // A bare boolean flag ("--json") means true: append "=true" before parsing.
  const bools = new Set(specs.filter((o) => o.boolean).map((o) => `--${o.flag}`));
  const args = rest.map((a) => bools.has(a) ? `${a}=true` : a);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseFlags(args, options);
  } catch (e) {
    throw new ConfigError(`Cannot parse flags: ${(e as Error).message}`);
  }
  const raw = (o: OptionSpec): string => {
    const v = values[o.flag];
    if (typeof v === "string") return v;
    const e = o.env ? inputs.env[o.env] : undefined;
    return e !== undefined && e !== "" ? e : o.def;
  };
  const get = (key: keyof AgentConfig): string => {
    const o = OPTIONS.find((x) => x.key === key)!;
    return specs.includes(o) ? raw(o) : o.def;
  };
  const nodeIps = list(get("nodeIps"));
  for (const ip of nodeIps) {
    if (!isIp(ip)) throw new ConfigError(`Cannot parse flags: --node-ip is not an address: ${ip}`);
  }
  const cfg: AgentConfig = {
    command,
    nodeName: get("nodeName") || inputs.hostname,
    datastore: oneOf(get("datastore"), ["kubernetes", "etcd", "file"] as const, "--datastore"),
    clusterCidrs: clusterCidrs(get("clusterCidrs")),
    serviceCidrs: serviceCidrs(get("serviceCidrs")),
    nodePrefixLengthV4: parseInt10(
      get("nodePrefixLengthV4"),
      "--node-cidr-mask-size-ipv4",
      1,
      MAX_NODE_PREFIX[4],
    ),
    nodePrefixLengthV6: parseInt10(
      get("nodePrefixLengthV6"),
      "--node-cidr-mask-size-ipv6",
      1,
      MAX_NODE_PREFIX[6],
    ),
    nodeIps,
    iface: get("iface"),
    cniBinDir: get("cniBinDir"),
    cniConfDir: get("cniConfDir"),
    conflistName: get("conflistName"),
    networkName: get("networkName"),
    pluginSrc: get("pluginSrc"),
    extraPlugins: list(get("extraPlugins")),
    ipamDir: get("ipamDir"),
    podMode: oneOf(get("podMode"), ["routed", "bridge"] as const, "--pod-mode"),
    bridge: get("bridge"),
    mtu: parseInt10(get("mtu"), "--mtu", 0, MAX_MTU),
    backend: oneOf(get("backend"), ["host-gw", "vxlan", "auto"] as const, "--backend"),
    vxlanVni: parseInt10(get("vxlanVni"), "--vxlan-vni", 0, MAX_VNI),
    vxlanPort: parseInt10(get("vxlanPort"), "--vxlan-port", 1, MAX_PORT),
    vxlanDevice: get("vxlanDevice"),
    manageBridge: parseBool(get("manageBridge"), "--manage-bridge"),
    masquerade: parseBool(get("masquerade"), "--masquerade"),
    networkPolicy: parseBool(get("networkPolicy"), "--network-policy"),
    firewallBackend: oneOf(
      get("firewallBackend"),
      ["auto", "iptables-legacy", "iptables-nft", "nftables", "none"] as const,
      "--firewall-backend",
    ),
    healthAddr: get("healthAddr"),
    pluginSocket: get("pluginSocket"),
    resyncIntervalMs: parseDuration(get("resyncIntervalMs"), "--resync-interval"),
    debounceMs: parseDuration(get("debounceMs"), "--debounce"),
    retryMinMs: parseDuration(get("retryMinMs"), "--retry-min"),
    retryMaxMs: parseDuration(get("retryMaxMs"), "--retry-max"),
    timeoutMs: parseDuration(get("timeoutMs"), "--timeout"),
    logLevel: oneOf(get("logLevel"), ["debug", "info", "warn", "error"] as const, "--log-level"),
    logFormat: oneOf(get("logFormat"), ["text", "json"] as const, "--log-format"),
    kubeconfig: get("kubeconfig"),
    kubeList: oneOf(get("kubeList"), ["paged", "watch-list"] as const, "--kube-list"),
    namespace: get("namespace"),
    etcdEndpoints: list(get("etcdEndpoints")),
    etcdPrefix: get("etcdPrefix"),
    storeDir: get("storeDir"),
    json: parseBool(get("json"), "--json"),
    binaryOnly: parseBool(get("binaryOnly"), "--binary-only"),
    installPlugin: parseBool(get("installPlugin"), "--install-plugin"),
    ipam: oneOf(get("ipam"), ["local", "ippool"] as const, "--ipam"),
    ippoolName: get("ippoolName"),
    help: values.help === true,
  };
  const ippoolKubeconfig = get("ippoolKubeconfig");
  if (ippoolKubeconfig !== "") {
    cfg.ippoolKubeconfig = ippoolKubeconfig;
    const api = kubernetesServiceUrl(inputs.env);
    if (api !== undefined) cfg.kubernetesApi = api;
  }
  if (cfg.vxlanDevice === "") cfg.vxlanDevice = `hostgate.${cfg.vxlanVni}`;
  if (!cfg.help) validate(cfg);
  return cfg;
}

function validate(cfg: AgentConfig): void {
  if (cfg.nodeName === "") throw new ConfigError("Cannot parse flags: --node-name is empty");
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(cfg.nodeName)) {
    throw new ConfigError(`Cannot parse flags: --node-name is not a DNS name: ${cfg.nodeName}`);
  }
  if (cfg.pluginSocket !== "") {
    const why = serverSocketProblem(cfg.pluginSocket);
    if (why) throw new ConfigError(`Cannot parse flags: --plugin-socket ${why}`);
  }
  if (cfg.healthAddr !== "") {
    try {
      parseHostPort(cfg.healthAddr);
    } catch (e) {
      throw new ConfigError(`Cannot parse flags: --health-addr ${(e as Error).message}`);
    }
  }
  if (cfg.ippoolKubeconfig !== undefined) {
    if (!cfg.ippoolKubeconfig.startsWith("/")) {
      throw new ConfigError("Cannot parse flags: --ippool-kubeconfig must be an absolute path");
    }
    if (cfg.kubernetesApi === undefined) {
      throw new ConfigError(
        "Cannot parse flags: --ippool-kubeconfig needs KUBERNETES_SERVICE_HOST (run in a pod)",
      );
    }
  }
  if (cfg.ipam === "ippool") validateIppool(cfg);
  if (!IFNAME.test(cfg.bridge)) {
    throw new ConfigError(`Cannot parse flags: --bridge is not an interface name: ${cfg.bridge}`);
  }
  if (!IFNAME.test(cfg.vxlanDevice) || cfg.vxlanDevice === cfg.bridge) {
    throw new ConfigError(
      `Cannot parse flags: --vxlan-device is not a free interface name: ${cfg.vxlanDevice}`,
    );
  }
  if (cfg.resyncIntervalMs < MIN_RESYNC_INTERVAL_MS) {
    throw new ConfigError(
      `Cannot parse flags: --resync-interval must be at least ${MIN_RESYNC_INTERVAL_MS}ms`,
    );
  }
  if (cfg.retryMaxMs < cfg.retryMinMs || cfg.retryMinMs < 1) {
    throw new ConfigError("Cannot parse flags: --retry-min must be >= 1ms and <= --retry-max");
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(cfg.networkName)) {
    throw new ConfigError(`Cannot parse flags: --network-name is invalid: ${cfg.networkName}`);
  }
  if (cfg.conflistName.includes("/") || !cfg.conflistName.endsWith(".conflist")) {
    throw new ConfigError(
      `Cannot parse flags: --conflist-name must be a file name ending in .conflist: ${cfg.conflistName}`,
    );
  }
}

/**
 * --ipam ippool: the pool addresses are routed from IPAllocation objects,
 * which only the Kubernetes API holds, and the plugin needs a kubeconfig.
 */
function validateIppool(cfg: AgentConfig): void {
  if (cfg.datastore !== "kubernetes") {
    throw new ConfigError(
      `Cannot parse flags: --ipam ippool needs --datastore kubernetes (IPAllocation objects live in the Kubernetes API), not ${cfg.datastore}`,
    );
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(cfg.ippoolName)) {
    throw new ConfigError(
      `Cannot parse flags: --ippool-name is not an IPPool name: ${cfg.ippoolName}`,
    );
  }
  if (
    ["run", "install", "status"].includes(cfg.command) && cfg.ippoolKubeconfig === undefined &&
    cfg.kubeconfig === ""
  ) {
    throw new ConfigError(
      "Cannot parse flags: --ipam ippool needs --ippool-kubeconfig (in a pod) or --kubeconfig (a JSON kubeconfig the plugin can read too)",
    );
  }
}
