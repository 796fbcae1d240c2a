/**
 * Pure address and CIDR helpers on top of `ip-cidr`. Addresses are canonical
 * strings at the API (RFC 5952 for IPv6, the form host-local names its files
 * with); the `bigint` helpers let an allocator walk a range numerically.
 * No system access.
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
