/**
 * Typed IPAM errors. Each already carries its CNI code, so the plugin prints it
 * as is, and STATUS recognises the ones that mean "cannot serve ADD now" by
 * class (`instanceof`), never by message.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import { addressOf } from "../net/mod.ts";

/**
 * No free address left in a range set (CNI code 100, hostgate's own range: the
 * spec has no code for it). STATUS maps it to 50.
 */
export class IpamExhaustedError extends CniError {
  /** Index of the exhausted range set in `ipam.ranges`. */
  readonly rangeSetIndex: number;
  /** Human form of the range set, e.g. "10.22.0.0/24 (10.22.0.2-10.22.0.254)". */
  readonly rangeSet: string;
  constructor(rangeSetIndex: number, rangeSet: string) {
    super(
      CniCode.IpamExhausted,
      `Cannot allocate an IP address: range set ${rangeSetIndex} (${rangeSet}) has no free address`,
      "Every address of the range set is reserved, excluded (reservedRanges), the gateway, " +
        "or the network/broadcast address. Delete unused pods, run GC, or widen the range.",
    );
    this.name = "IpamExhaustedError";
    this.rangeSetIndex = rangeSetIndex;
    this.rangeSet = rangeSet;
  }
}

/**
 * The IPAM store cannot be used (directory not writable, lock unobtainable) or
 * the delegated plugin is missing: ADD cannot be served. Code 50 (plugin not
 * available), which is what STATUS must answer.
 */
export class IpamUnavailableError extends CniError {
  constructor(msg: string, details = "", options?: ErrorOptions) {
    super(CniCode.PluginNotAvailable, msg, details, options);
    this.name = "IpamUnavailableError";
  }
}

/**
 * A specific address was asked for (CNI_ARGS IP=, runtimeConfig ips) that
 * cannot be given: outside every range set, excluded, the gateway, or held by
 * another owner. Code 7: the request conflicts with the network configuration
 * or its current state, and retrying the same request cannot succeed.
 */
export class IpamRequestError extends CniError {
  readonly ip: string;
  constructor(ip: string, why: string) {
    super(CniCode.InvalidNetworkConfig, `Cannot allocate requested IP ${ip}: ${why}`);
    this.name = "IpamRequestError";
    this.ip = ip;
  }
}

/**
 * CHECK found no reservation of the owner for an address (code 3, "container
 * unknown": IPAM does not know this attachment's address).
 */
export class IpamCheckError extends CniError {
  constructor(msg: string) {
    super(CniCode.UnknownContainer, msg);
    this.name = "IpamCheckError";
  }
}

/** What `requireHeld` compares. */
export interface HeldCheck {
  /** What is missing, e.g. "an IPAM reservation". */
  what: string;
  /** The owner, "<containerId>/<ifname>". */
  who: string;
  /** Addresses the owner holds, without prefix. */
  held: readonly string[];
  /** Addresses (or CIDRs) CHECK was given. */
  ips: readonly string[];
}

/** CHECK of every IPAM backend: throws IpamCheckError unless `held` has each of `ips`. */
export function requireHeld(c: HeldCheck): void {
  for (const text of c.ips) {
    let ip: string;
    try {
      ip = addressOf(text);
    } catch {
      throw new IpamCheckError(`Cannot check IP ${JSON.stringify(text)}: not an address`);
    }
    if (!c.held.includes(ip)) {
      throw new IpamCheckError(
        `Cannot find ${c.what}: ${c.who} does not hold ${ip} (holds ${
          c.held.join(", ") || "none"
        })`,
      );
    }
  }
}

/**
 * The delegated IPAM plugin binary is not in any CNI_PATH directory. Code 7,
 * like libcni's "failed to find plugin X in path": the network configuration
 * names a type this node cannot run. STATUS turns it into code 50.
 */
export class IpamPluginNotFoundError extends CniError {
  readonly plugin: string;
  constructor(plugin: string, dirs: readonly string[]) {
    super(
      CniCode.InvalidNetworkConfig,
      `Cannot find IPAM plugin ${plugin}: not in CNI_PATH (${dirs.join(":") || "empty"})`,
    );
    this.name = "IpamPluginNotFoundError";
    this.plugin = plugin;
  }
}

/** Wraps an unexpected store failure (I/O) as CNI code 5, keeping the cause. */
export function ioFailure(action: string, cause: unknown): CniError {
  if (cause instanceof CniError) return cause;
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new CniError(CniCode.IoFailure, `Cannot ${action}: ${msg}`, "", { cause });
}
