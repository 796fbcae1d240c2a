/**
 * DNS settings, the one decoder of them: a result's `dns` (prevResult, a
 * delegated IPAM plugin's output), a network config's `dns`, and the
 * `ipam.dns` of hostgate's IPAM backends all have this shape.
 * @module
 */
import { tryParseIp } from "../net/mod.ts";
import { configFail, type Fail, isAbsent, optObject, stringList } from "./decode.ts";

/** DNS settings of a result or a config (the spec's DNS type). */
export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** Options of `decodeDns`. */
export interface DecodeDnsOptions {
  /** Where the object sits, for errors ("prevResult.dns", "ipam.dns"). */
  key: string;
  /** How a wrong value fails; default CNI code 7 naming the key. */
  fail?: Fail;
  /** Require every nameserver to be an IP address (a config written by an operator). */
  addresses?: boolean;
}

/** Reads DNS settings; undefined when absent. Wrong types fail naming the key. */
export function decodeDns(v: unknown, opts: DecodeDnsOptions): Dns | undefined {
  const { key, fail = configFail } = opts;
  const o = optObject(v, key, fail);
  if (!o) return undefined;
  const out: Dns = {};
  const ns = stringList(o["nameservers"], `${key}.nameservers`, fail);
  if (ns && opts.addresses) {
    ns.forEach((s, i) => {
      if (!tryParseIp(s)) throw fail(`${key}.nameservers[${i}]`, "must be an IP address");
    });
  }
  if (ns) out.nameservers = ns;
  const domain = o["domain"];
  if (!isAbsent(domain)) {
    if (typeof domain !== "string") throw fail(`${key}.domain`, "must be a string");
    out.domain = domain;
  }
  const search = stringList(o["search"], `${key}.search`, fail);
  if (search) out.search = search;
  const options = stringList(o["options"], `${key}.options`, fail);
  if (options) out.options = options;
  return out;
}

/** True when `d` says anything (an empty `dns: {}` does not). */
export function hasDns(d: Dns | undefined): d is Dns {
  return Boolean(d && (d.nameservers?.length || d.domain || d.search?.length || d.options?.length));
}
