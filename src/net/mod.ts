/**
 * The project's one address and CIDR vocabulary, pure (no system access),
 * and the bottom layer: `Family` lives here and src/system, IPAM, the plugin,
 * the agent and the datastores all take it from here. Addresses are
 * canonical strings at the API (RFC 5952 for IPv6, the form host-local names
 * its files with); the `bigint` helpers let an allocator walk a range.
 *
 * One implementation per job, chosen on purpose:
 * - Validating and parsing any address or CIDR text: ip-cidr (address.ts
 *   `libParse`). IPv6 spelling (zero compression, embedded IPv4, zones) is
 *   where hand-written parsers go wrong, so the library decides what is valid.
 * - Reading a canonical dotted quad ("10.0.0.1", the bulk of the agent's
 *   5,000-node passes): the own char loop `fastV4`, because it is an order of
 *   magnitude cheaper than a library parse; it accepts only text the library
 *   accepts with the same value (lib_parity_test.ts), anything else goes to
 *   ip-cidr, so it is a fast path of the same job, not a second opinion.
 * - Numbers and formatting (bigint values, dotted quads, RFC 5952 text): own
 *   code (`libValue`, `formatV4`, `formatV6Groups`), because ip-cidr's
 *   conversions go through jsbn, which costs a one-shot plugin process
 *   milliseconds; the output equals the library's `correctForm`.
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
