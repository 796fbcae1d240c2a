/**
 * The one bridge ensure of both programs: the plugin runs it on a pod ADD in
 * bridge mode, the agent before the first pod so node-to-pod traffic and the
 * conflist's gateway exist from the start. Same steps, same result, so the
 * two can race on a fresh node and both win.
 *
 * It lives here, beside the netlink interface, because it is nothing but
 * idempotent netlink steps: no CNI error codes (the plugin maps the typed
 * errors below at its boundary) and no agent policy (which gateways, when).
 * Both programs already import src/system; neither imports the other.
 * @module
 */
import { canonIp, familyOf } from "../../net/mod.ts";
import { ExistsError, LinkExistsError } from "./errors.ts";
import type { Link, NetlinkHandle } from "./types.ts";

/** Thrown when a link of the bridge's name exists and is not a bridge. */
export class NotABridgeError extends Error {
  /** The link in the way. */
  readonly link: Link;
  constructor(link: Link) {
    super(
      `Cannot use bridge ${link.name}: a link of that name exists and is ${
        link.kind ? `a ${link.kind}` : "no bridge"
      }`,
    );
    this.name = "NotABridgeError";
    this.link = link;
  }
}

/** Thrown when the bridge was created by someone else and removed before it could be read. */
export class BridgeVanishedError extends Error {
  constructor(name: string) {
    super(`Cannot create bridge ${name}: raced with its removal`);
    this.name = "BridgeVanishedError";
  }
}

/** What `ensureBridge` makes sure of. */
export interface BridgeSpec {
  name: string;
  /** MTU given to a new bridge (an existing one keeps its own). */
  mtu?: number;
  /** Promiscuous mode on (never turned off). */
  promisc?: boolean;
  /**
   * Gateway addresses with the pod subnet's prefix ("10.22.0.1/24"). Add-only:
   * an address already on the bridge (whatever its prefix) is left, and so is
   * an address of an old subnet that pods may still use.
   */
  gateways?: readonly string[];
}

/** The bridge and how many writes it took (0 when all was in place). */
export interface EnsuredBridge {
  link: Link;
  writes: number;
}

/** Bytes of a MAC address. */
const MAC_BYTES = 6;
/** First-octet bits: locally administered (set) and multicast (cleared). */
const MAC_LOCAL = 0x02;
const MAC_MULTICAST = 0x01;

/**
 * A random locally administered unicast MAC. A new bridge gets a fixed one:
 * otherwise it takes its lowest port's MAC and changes it when that pod goes,
 * leaving the other pods' ARP entries for the gateway stale.
 */
export function randomMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(MAC_BYTES));
  b[0] = (b[0]! & ~(MAC_LOCAL | MAC_MULTICAST)) | MAC_LOCAL;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/**
 * Ensures the bridge exists, is a bridge, is up (promiscuous when asked) and
 * holds `gateways`; IPv6 gateways are added without DAD so they work at once.
 * A bridge a parallel caller created first is used. Throws `NotABridgeError`,
 * `BridgeVanishedError`, or the netlink error of the step that failed.
 */
export function ensureBridge(handle: NetlinkHandle, spec: BridgeSpec): EnsuredBridge {
  let writes = 0;
  let link = handle.getLink(spec.name);
  if (!link) {
    try {
      const opts: { name: string; mtu?: number; mac: string } = {
        name: spec.name,
        mac: randomMac(),
      };
      if (spec.mtu !== undefined) opts.mtu = spec.mtu;
      link = handle.addBridge(opts);
      writes++;
    } catch (e) {
      if (!(e instanceof LinkExistsError)) throw e;
      link = handle.getLink(spec.name);
      if (!link) throw new BridgeVanishedError(spec.name);
    }
  }
  if (link.kind !== "bridge") throw new NotABridgeError(link);
  if (spec.promisc && !link.promisc) {
    handle.setPromisc(link.index, true);
    writes++;
  }
  if (!link.up) {
    handle.setLinkUp(link.index);
    writes++;
  }
  const gateways = spec.gateways ?? [];
  if (gateways.length === 0) return { link, writes };
  const present = new Set(handle.listAddrs({ linkIndex: link.index }).map((a) => canonIp(a.cidr)));
  for (const gw of gateways) {
    const ip = canonIp(gw);
    if (present.has(ip)) continue;
    try {
      const cidr = `${ip}${gw.slice(gw.indexOf("/"))}`;
      handle.addAddr({ linkIndex: link.index, cidr, noDad: familyOf(ip) === 6 });
      writes++;
    } catch (e) {
      if (!(e instanceof ExistsError)) throw e;
    }
  }
  return { link, writes };
}
