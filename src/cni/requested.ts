/**
 * The one answer to "which addresses did the runtime ask for": CNI_ARGS
 * `IP=`, the `args.cni.ips` convention and the `ips` capability, in
 * host-local's order, canonical and without repeats. The plugin hands the
 * list to its IPAM backend; hostgate-local uses it as its default when
 * called without one.
 * @module
 */
import { type CniArgs, parseCniArgs } from "./args.ts";
import {
  type ConfArgs,
  parseConfArgs,
  parseRuntimeConfig,
  type RuntimeConfig,
} from "./capabilities.ts";
import type { Json } from "./decode.ts";

/** Where requested addresses come from, each already decoded. */
export interface IpRequestSources {
  cniArgs: Pick<CniArgs, "ips">;
  args: ConfArgs;
  runtime: Pick<RuntimeConfig, "ips">;
}

/** The requested addresses: CNI_ARGS, then args.cni.ips, then runtimeConfig.ips, de-duplicated. */
export function requestedIps(from: IpRequestSources): string[] {
  return [...new Set([...from.cniArgs.ips, ...from.args.ips, ...from.runtime.ips])];
}

/**
 * `requestedIps` straight from a whole network config and raw CNI_ARGS,
 * for an IPAM backend built without the plugin's decoded arguments. Bad
 * CNI_ARGS are code 4, bad config values code 7 naming the field.
 */
export function requestedIpsOf(config: Json, cniArgs: string | undefined): string[] {
  return requestedIps({
    cniArgs: parseCniArgs(cniArgs),
    args: parseConfArgs(config["args"]),
    runtime: parseRuntimeConfig(config["runtimeConfig"]),
  });
}
