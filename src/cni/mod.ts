/**
 * The CNI spec layer, shared by the plugin (src/plugin), its IPAM backends
 * (src/ipam, src/ipam/ippool) and their tests, in the role libcni's skel
 * and types packages play for Go plugins.
 *
 * It owns:
 * - the environment: CNI_* variables into typed `CniEnv`, with the one
 *   CNI_ARGS parser (`parseCniArgs`);
 * - the network config on stdin: decoding, `cniVersion` and what each
 *   version allows, the spec's keys (`parseSpecConf`), prevResult of any
 *   version;
 * - capability arguments (`runtimeConfig`: ips, mac, portMappings,
 *   bandwidth, dns) and the `args.cni` convention as typed values, with the
 *   one requested-IP resolver (`requestedIps`);
 * - results in one internal shape, encoded per version (0.3.0 to 1.1.0),
 *   decoded from any version; the error object both ways. The codes
 *   themselves are src/errors.ts's `CniCode`, re-exported here.
 *
 * It must not touch the system: no files, processes, netlink, clock or
 * environment reads (callers pass the environment in as a record). It is
 * pure, imports only src/errors.ts and src/net, and must stay cheap to
 * import: it is on the plugin's per-pod path.
 *
 * ```ts
 * const env = parseEnv(Deno.env.toObject());
 * const conf = parseSpecConf(decodeStdin(stdin), env.command);
 * const ips = requestedIps({ cniArgs: env.args, args: conf.args, runtime: conf.runtime });
 * ```
 * @module
 */
export { CniCode, type CniCodeValue, CniError, invalidConfig } from "../errors.ts";
export { canonicalMac, requestedAddress } from "./address.ts";
export { CNI_ARG, type CniArgs, parseArgPairs, parseCniArgs } from "./args.ts";
export {
  type Bandwidth,
  type BandwidthLimit,
  type ConfArgs,
  type DnsCapability,
  fieldOf,
  MAX_BURST_BITS,
  MAX_PORT,
  parseBandwidth,
  parseConfArgs,
  parseDnsCapability,
  parsePortMappings,
  parseRuntimeConfig,
  PORT_PROTOCOLS,
  type PortMapping,
  type PortProtocol,
  requestedList,
  type RuntimeConfig,
} from "./capabilities.ts";
export { configFail, type Fail, isAbsent, isObject, type Json, quote } from "./decode.ts";
export { decodeDns, type DecodeDnsOptions, type Dns, hasDns } from "./dns.ts";
export {
  type CniEnv,
  cniPathDirs,
  encodeEnv,
  type EnvCall,
  interfaceNameProblem,
  MAX_IFNAME_BYTES,
  NAME_PATTERN,
  parseEnv,
  validateContainerId,
} from "./env.ts";
export { decodeError, encodeError } from "./errors.ts";
export {
  type Attachment,
  configVersion,
  decodeStdin,
  type IpamConf,
  parseAttachments,
  parseIpamSection,
  parseSpecConf,
  type SpecConf,
} from "./netconf.ts";
export { type IpRequestSources, requestedIps, requestedIpsOf } from "./requested.ts";
export {
  type CniResult,
  decodeResult,
  type DecodeResultOptions,
  emptyResult,
  encodeResult,
  mergeResults,
  type ResultInterface,
  type ResultIp,
  type ResultRoute,
} from "./result.ts";
export {
  type CniCommand,
  COMMANDS,
  compareVersions,
  CURRENT_VERSION,
  DEFAULT_CONFIG_VERSION,
  hasCommand,
  hasIpVersionField,
  MIN_VERSION,
  parseVersion,
  requireVersion,
  SUPPORTED_VERSIONS,
  versionAtLeast,
  versionInfo,
} from "./version.ts";
