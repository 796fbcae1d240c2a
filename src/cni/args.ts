/**
 * CNI_ARGS ("K1=V1;K2=V2"), the one parser of it: the plugin's environment
 * and the IPAM backends both read it here. Lenient where libcni's users are
 * (empty pairs skipped, a value may hold "=", unknown keys kept), strict
 * where a value means something (`IP=` must be addresses), and safe on
 * hostile text: linear in its length, keys such as `__proto__` are plain
 * keys, and error messages quote at most a short prefix of the input.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import { requestedAddress } from "./address.ts";
import { quote } from "./decode.ts";

/** The keys of CNI_ARGS hostgate reads. */
export const CNI_ARG = {
  /** Requested addresses, comma separated (host-local's and static's `IP`). */
  ip: "IP",
  podNamespace: "K8S_POD_NAMESPACE",
  podName: "K8S_POD_NAME",
} as const;

/** Parsed CNI_ARGS. */
export interface CniArgs {
  /** Every pair as given; a repeated key keeps its last value (libcni's LoadArgs does too). */
  pairs: ReadonlyMap<string, string>;
  /** Canonical addresses requested with `IP=`, in order. */
  ips: string[];
  /** K8S_POD_NAMESPACE; with podName it makes an allocation sticky per pod. */
  podNamespace?: string;
  /** K8S_POD_NAME. */
  podName?: string;
}

function argsError(msg: string): CniError {
  return new CniError(CniCode.InvalidEnvironment, `Cannot parse CNI_ARGS: ${msg}`);
}

/** Splits CNI_ARGS into pairs; a pair without "=" or with an empty key is error 4. */
export function parseArgPairs(raw: string | undefined): Map<string, string> {
  const pairs = new Map<string, string>();
  if (raw === undefined) return pairs;
  for (const part of raw.split(";")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw argsError(`${quote(part)} is not KEY=VALUE`);
    pairs.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return pairs;
}

/** Parses CNI_ARGS: its pairs, the `IP=` addresses (error 4 when one is not an address) and the pod. */
export function parseCniArgs(raw: string | undefined): CniArgs {
  const pairs = parseArgPairs(raw);
  const out: CniArgs = { pairs, ips: [] };
  for (const part of (pairs.get(CNI_ARG.ip) ?? "").split(",")) {
    const text = part.trim();
    if (text === "") continue;
    const ip = requestedAddress(text, { bare: true });
    if (ip === undefined) throw argsError(`IP=${quote(text)} is not an IP address`);
    out.ips.push(ip);
  }
  const ns = pairs.get(CNI_ARG.podNamespace);
  const pod = pairs.get(CNI_ARG.podName);
  if (ns) out.podNamespace = ns;
  if (pod) out.podName = pod;
  return out;
}
