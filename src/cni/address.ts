/**
 * The two address forms a runtime hands a plugin: an IP asked for (bare or
 * with a prefix, "10.22.0.5" or "10.22.0.5/24") and a MAC. Parsed with
 * src/net's own parsers (a dotted quad is a char loop).
 * @module
 */
import { tryParseCidr, tryParseIp } from "../net/mod.ts";

/**
 * The canonical address of a requested IP, its prefix (informational in a
 * request) dropped; undefined when `text` is neither an address nor a CIDR.
 * With `bare`, a prefix is refused (CNI_ARGS `IP=` takes addresses only, as
 * host-local's does).
 */
export function requestedAddress(text: string, opts: { bare?: boolean } = {}): string | undefined {
  if (!text.includes("/")) return tryParseIp(text)?.text;
  return opts.bare ? undefined : tryParseCidr(text)?.address;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** The lower-case form of a colon-separated 6-byte MAC; undefined when `text` is not one. */
export function canonicalMac(text: string): string | undefined {
  return MAC.test(text) ? text.toLowerCase() : undefined;
}
