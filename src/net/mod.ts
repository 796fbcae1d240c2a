/**
 * The project's one address and CIDR vocabulary, pure (no system access),
 * and the bottom layer: `Family` lives here and src/system, IPAM, the plugin,
 * the agent and the datastores all take it from here. Addresses are
 * canonical strings at the API (RFC 5952 for IPv6, the form host-local names
 * its files with); the `bigint` helpers let an allocator walk a range.
 *
 * One implementation per job, all own code (no address library: ip-cidr
 * and its ip-address/jsbn/sprintf were ~40% of every plugin program and
 * pulled Node's CommonJS shim into the agent):
 * - Parsing and validating: ipv4.ts (`fastV4`, a char loop: the agent reads
 *   tens of thousands of dotted quads per pass) and ipv6.ts (`parseV6`: "::"
 *   compression, embedded IPv4, no zones). Strict, and accepting exactly what
 *   ip-cidr accepted (ip_parity_test.ts runs both on hostile input), so no
 *   configuration that was valid becomes invalid or changes meaning.
 * - Numbers and formatting: native bigint values, dotted quads, RFC 5952
 *   text (`formatV4`, `formatV6Groups`, equal to ip-cidr's `correctForm`).
 * - Containment: `cidrContainsIp` (an address in a block) and `cidrCovers`
 *   (a block inside a block) compare bigints of one parse; `CidrSet` answers
 *   overlap against many blocks at once.
 * - Ranges ("a-b", reservedRanges): range.ts on the same parses.
 * @module
 */
export {
  AddressError,
  addressOf,
  bigIntToIp,
  type Family,
  familyBits,
  familyOf,
  ipToBigInt,
  isIp,
  maxAddressValue,
  normalizeIp,
  type ParsedIp,
  parseIp,
  tryParseIp,
} from "./address.ts";
export {
  type Cidr,
  cidrContainsIp,
  cidrCovers,
  cidrsOverlap,
  isCidr,
  normalizeCidr,
  nthAddress,
  parseCidr,
  tryParseCidr,
} from "./cidr.ts";
export {
  formatIpRange,
  type IpRange,
  ipRange,
  iterateRange,
  mergeRanges,
  parseIpRange,
  rangeContains,
  rangeSize,
  rangesOverlap,
} from "./range.ts";
export { canonIp, CidrSet, gatewayCidr, prefixLength } from "./canon.ts";
