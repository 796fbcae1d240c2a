/**
 * Where a runtime asks for specific addresses, read the way host-local reads
 * them: CNI_ARGS `IP=` (a comma-separated list is accepted, as the static
 * plugin does), the `args.cni.ips` convention and the `ips` capability in
 * `runtimeConfig`. Values may carry a prefix ("10.22.0.5/24"). Pure.
 * @module
 */
import { CniCode, CniError, invalidConfig } from "../errors.ts";
import { addressOf } from "../net/mod.ts";

/** Parses "K1=V1;K2=V2" (CNI_ARGS) into pairs; later keys win. Throws code 4 on a bad pair. */
export function parseCniArgs(raw: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!raw) return out;
  for (const pair of raw.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `Cannot parse CNI_ARGS: ${JSON.stringify(pair)} is not KEY=VALUE`,
      );
    }
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

function listAt(config: Record<string, unknown>, path: string[]): unknown {
  let cur: unknown = config;
  for (const k of path) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function fromList(v: unknown, key: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidConfig(key, "must be an array of IP addresses");
  return v.map((s, i) => {
    try {
      if (typeof s !== "string") throw new TypeError();
      return addressOf(s);
    } catch {
      throw invalidConfig(`${key}[${i}]`, `must be an IP address, got ${JSON.stringify(s)}`);
    }
  });
}

/** Options of `requestedIps`. */
export interface RequestedIpsOptions {
  /** The whole network config (with `runtimeConfig` and `args` if present). */
  config: unknown;
  /** Raw CNI_ARGS. */
  cniArgs?: string;
}

/**
 * Requested addresses, canonical and de-duplicated, in the order CNI_ARGS,
 * args.cni.ips, runtimeConfig.ips. Invalid CNI_ARGS values are code 4,
 * invalid config values code 7.
 */
export function requestedIps(opts: RequestedIpsOptions): string[] {
  const out: string[] = [];
  const ipArg = parseCniArgs(opts.cniArgs).get("IP");
  if (ipArg !== undefined && ipArg !== "") {
    for (const part of ipArg.split(",")) {
      try {
        out.push(addressOf(part.trim()));
      } catch {
        throw new CniError(
          CniCode.InvalidEnvironment,
          `Cannot parse CNI_ARGS: IP=${ipArg} is not a list of IP addresses`,
        );
      }
    }
  }
  if (typeof opts.config === "object" && opts.config !== null) {
    const c = opts.config as Record<string, unknown>;
    out.push(...fromList(listAt(c, ["args", "cni", "ips"]), "args.cni.ips"));
    out.push(...fromList(listAt(c, ["runtimeConfig", "ips"]), "runtimeConfig.ips"));
  }
  return [...new Set(out)];
}
