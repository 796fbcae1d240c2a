/**
 * Everything the plugin needs from the outside world, passed as one object
 * so unit tests hand in the fakes (FakeNetlink, the fake file system, a fake
 * exec) and run every command without root. main.ts builds the real set.
 * @module
 */
import type { CniEnv, CniResult } from "../cni/mod.ts";
import type { Ipam } from "../ipam/types.ts";
import type { Clock } from "../system/clock.ts";
import type { Conntrack } from "../system/conntrack.ts";
import type { Exec } from "../system/exec.ts";
import type { FileSystem } from "../system/fs.ts";
import type { Netlink } from "../system/netlink/types.ts";
import type { Logger } from "../system/log.ts";
import type { Nft } from "../system/nft.ts";
import type { NftSets as ElementSets } from "../system/nftables/types.ts";
import type { Tc } from "../system/tc.ts";
import type { LogLevel, NetConf } from "./netconf.ts";
import type { Tracer } from "./trace.ts";

/** What an IPAM backend is built from: the validated config and the call's environment. */
export interface IpamRequest {
  conf: NetConf;
  env: CniEnv;
  /** The CNI_* variables and stdin as received, for a delegated IPAM plugin. */
  rawEnv: Record<string, string | undefined>;
  stdin: string;
}

/** Builds the IPAM backend named by `conf.ipam.type`. */
export type IpamFactory = (req: IpamRequest, deps: PluginDeps) => Ipam;

/** The plugin's dependencies. */
export interface PluginDeps {
  netlink: Netlink;
  fs: FileSystem;
  exec: Exec;
  clock: Clock;
  log: Logger;
  /**
   * True when a CNI_NETNS path is the plugin's own network namespace (refused
   * with code 4 before any change); main.ts wires system/netns_identity.ts.
   */
  isOwnNetns?: (path: string) => boolean;
  /**
   * nft for the anti-spoofing tables' definition and the legacy per-veth
   * chains (guard/); built from `exec` when absent.
   */
  guardNft?: Nft;
  /** In-process nftables set elements of the node's netns: each pod's guard (guard/). */
  guardSets?: ElementSets;
  /** Builds the IPAM backend; main.ts wires `createIpam`. */
  ipam: IpamFactory;
  /**
   * Opens a logger for the config's `logFile`/`logLevel`; when absent the
   * boundary logger `log` is kept.
   */
  openLog?: (opts: { file?: string; level?: LogLevel }) => Logger;
  /**
   * nft for the hostPort table's definition (first pod after boot) and its
   * per-subnet source prefixes; built from `exec` when absent.
   */
  nft?: Pick<Nft, "apply">;
  /** In-process set elements of the node's netns: each pod's hostPorts (ports/). */
  portSets?: ElementSets;
  /** conntrack for hostPorts; ctnetlink in the plugin's netns when absent. */
  conntrack?: Conntrack;
  /** tc for bandwidth limits; built from `exec` when absent. */
  tc?: Tc;
  /**
   * The command handlers this process has loaded: main.ts loads the one
   * program (src/plugin/program/) its command needs, and each program hands
   * in its own handler only; unit tests hand in all of them (ALL_COMMANDS).
   */
  commands: CommandTable;
  /** Times the boundary's steps under HOSTGATE_TRACE (main.ts); absent otherwise. */
  trace?: Tracer;
}

/** One handler per command (VERSION needs none: dispatch answers it). */
export interface CommandTable {
  ADD?: (ctx: CommandContext) => Promise<CniResult>;
  DEL?: (ctx: DelContext) => Promise<void>;
  CHECK?: (ctx: CommandContext) => Promise<void>;
  GC?: (ctx: CommandContext) => Promise<void>;
  STATUS?: (ctx: CommandContext) => Promise<void>;
}

/** DEL's arguments: the IPAM backend comes as a factory, built once the veth removal runs. */
export interface DelContext extends Omit<CommandContext, "ipam"> {
  /** Builds the IPAM backend (parses its config; may throw a CniError). */
  ipam: () => Ipam;
}

/** The arguments every command handler receives. */
export interface CommandContext {
  env: CniEnv;
  conf: NetConf;
  deps: PluginDeps;
  /** The logger of this call (the config's log file when set). */
  log: Logger;
  ipam: Ipam;
}
