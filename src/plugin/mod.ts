/**
 * The `hostgate` CNI plugin as a library: the dispatcher (environment and
 * stdin in, stdout and exit code out), its dependency seam, and the typed
 * pieces other code reuses (env/netconf parsing, result shapes, versions,
 * the derived host veth name). The binary's entry point is main.ts.
 *
 * ```ts
 * const out = await dispatch({ env: Deno.env.toObject(), stdin }, deps);
 * ```
 * @module
 */
export { dispatch, errorJson, type PluginInput, type PluginOutput } from "./dispatch.ts";
export type { CommandContext, IpamFactory, IpamRequest, PluginDeps } from "./deps.ts";
export { type CniArgs, type CniEnv, interfaceNameProblem, parseCniArgs, parseEnv } from "./env.ts";
export {
  configVersion,
  decodeStdin,
  DEFAULT_BRIDGE,
  type IpamConf,
  type LogLevel,
  type NetConf,
  parseNetConf,
} from "./netconf.ts";
export {
  type CniResult,
  decodeResult,
  emptyResult,
  encodeResult,
  mergeResults,
  type ResultDns,
  type ResultInterface,
  type ResultIp,
  type ResultRoute,
} from "./result.ts";
export {
  type CniCommand,
  CURRENT_VERSION,
  requireVersion,
  SUPPORTED_VERSIONS,
  versionInfo,
} from "./version.ts";
export { HOST_VETH_PATTERN, HOST_VETH_PREFIX, hostVethName, ipamOwner } from "./names.ts";
export { createLogger, type Logger, type LoggerOptions, memoryLogger, nullLogger } from "./log.ts";
