/**
 * A delegated IPAM plugin (any `ipam.type` other than hostgate's own), run as
 * the CNI spec says: found by name in CNI_PATH, executed with the CNI
 * environment and the whole network config on stdin, its result (0.1.0 ..
 * 1.1.0 shapes) turned into an IpamResult and its error JSON passed through
 * as a CniError with the plugin's own code. So the reference host-local,
 * static and dhcp plugins work unchanged.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import { tryParseCidr, tryParseIp } from "../net/mod.ts";
import type { Exec, ExecResult } from "../system/exec.ts";
import type { FileSystem } from "../system/fs.ts";
import { IpamPluginNotFoundError, IpamUnavailableError } from "./errors.ts";
import type {
  Attachment,
  Ipam,
  IpamAddress,
  IpamDns,
  IpamOwner,
  IpamResult,
  IpamRoute,
} from "./types.ts";

/** libcni's code for an error without a CNI error JSON ("internal"). */
export const DELEGATE_INTERNAL_ERROR = 999;

/** The parts of the plugin's CNI environment a delegate inherits. */
export interface CniEnvLike {
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** Raw CNI_ARGS ("K=V;K2=V2"), passed through unchanged. */
  args?: string;
  /** CNI_PATH: the colon-separated text or its directories. */
  path?: string | readonly string[];
}

/** Options of a DelegatedIpam. */
export interface DelegatedIpamOptions {
  /** Plugin binary name (`ipam.type`). */
  plugin: string;
  /** The whole network config, sent on stdin. */
  config: Record<string, unknown>;
  cniVersion: string;
  env: CniEnvLike;
  fs: FileSystem;
  exec: Exec;
  /** Kill the delegate after this long; no limit when omitted. */
  timeoutMs?: number;
}

/** True when CNI version `v` is at least `min` ("0.4.0" >= "0.3.1"). */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split(".").map((x) => Number(x) || 0);
  const b = min.split(".").map((x) => Number(x) || 0);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** Directories of CNI_PATH. */
export function cniPathDirs(path: CniEnvLike["path"]): string[] {
  const dirs = typeof path === "string" ? path.split(":") : [...(path ?? [])];
  return dirs.filter((d) => d !== "");
}

/** Runs an IPAM plugin binary from CNI_PATH. */
export class DelegatedIpam implements Ipam {
  readonly plugin: string;
  readonly #o: DelegatedIpamOptions;
  #binary: string | undefined;

  constructor(opts: DelegatedIpamOptions) {
    this.plugin = opts.plugin;
    this.#o = opts;
  }

  /** Finds the binary in CNI_PATH (first directory wins), once per instance. */
  async locate(): Promise<string> {
    if (this.#binary) return this.#binary;
    const dirs = cniPathDirs(this.#o.env.path);
    for (const d of dirs) {
      const candidate = `${d.replace(/\/+$/, "")}/${this.plugin}`;
      if (await this.#o.fs.exists(candidate)) return (this.#binary = candidate);
    }
    throw new IpamPluginNotFoundError(this.plugin, dirs);
  }

  async #run(
    command: string,
    owner: Partial<IpamOwner>,
    config: Record<string, unknown>,
  ): Promise<ExecResult> {
    const bin = await this.locate();
    const env = this.#o.env;
    const vars: Record<string, string> = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: owner.containerId ?? env.containerId ?? "",
      CNI_NETNS: env.netns ?? "",
      CNI_IFNAME: owner.ifname ?? env.ifname ?? "",
      CNI_ARGS: env.args ?? "",
      CNI_PATH: cniPathDirs(env.path).join(":"),
    };
    const stdin = JSON.stringify({ ...config, cniVersion: this.#o.cniVersion });
    let r: ExecResult;
    try {
      r = await this.#o.exec.run([bin], { env: vars, stdin, timeoutMs: this.#o.timeoutMs });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new IpamPluginNotFoundError(this.plugin, cniPathDirs(env.path));
      }
      throw new CniError(
        CniCode.IoFailure,
        `Cannot run IPAM plugin ${this.plugin}: ${(e as Error).message}`,
        "",
        { cause: e },
      );
    }
    if (r.code !== 0) throw this.#error(command, r);
    return r;
  }

  #error(command: string, r: ExecResult): CniError {
    try {
      const e = JSON.parse(r.stdout) as { code?: unknown; msg?: unknown; details?: unknown };
      if (typeof e.code === "number") {
        return new CniError(
          e.code,
          typeof e.msg === "string" ? e.msg : `IPAM plugin ${this.plugin} failed`,
          typeof e.details === "string" ? e.details : "",
        );
      }
    } catch {
      // not an error JSON: fall through
    }
    return new CniError(
      DELEGATE_INTERNAL_ERROR,
      `Cannot ${command} with IPAM plugin ${this.plugin}: exit ${r.code}`,
      (r.stderr || r.stdout).trim().slice(0, 2000),
    );
  }

  async add(owner: IpamOwner, _opts?: { requestedIps?: string[] }): Promise<IpamResult> {
    // Requested IPs reach the delegate through CNI_ARGS and runtimeConfig itself.
    const r = await this.#run("ADD", owner, this.#o.config);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.stdout);
    } catch {
      throw new CniError(
        CniCode.DecodeFailure,
        `Cannot decode the result of IPAM plugin ${this.plugin}: not JSON`,
        r.stdout.slice(0, 2000),
      );
    }
    return parseIpamResult(parsed, this.plugin);
  }

  async del(owner: IpamOwner): Promise<void> {
    await this.#run("DEL", owner, this.#o.config);
  }

  async check(owner: IpamOwner, _ips: string[]): Promise<void> {
    // CHECK exists from 0.4.0 on; the delegate compares prevResult itself.
    if (!versionAtLeast(this.#o.cniVersion, "0.4.0")) return;
    await this.#run("CHECK", owner, this.#o.config);
  }

  async gc(valid: Attachment[]): Promise<void> {
    if (!versionAtLeast(this.#o.cniVersion, "1.1.0")) return;
    const attachments = valid.map((a) => ({ containerID: a.containerId, ifname: a.ifname }));
    await this.#run("GC", {}, { ...this.#o.config, "cni.dev/valid-attachments": attachments });
  }

  async status(): Promise<void> {
    try {
      await this.locate();
    } catch (e) {
      throw new IpamUnavailableError((e as Error).message, "", { cause: e });
    }
    if (!versionAtLeast(this.#o.cniVersion, "1.1.0")) return;
    await this.#run("STATUS", {}, this.#o.config);
  }
}

type Obj = Record<string, unknown>;

function bad(plugin: string, why: string): CniError {
  return new CniError(
    CniCode.DecodeFailure,
    `Cannot decode the result of IPAM plugin ${plugin}: ${why}`,
  );
}

function address(plugin: string, text: unknown, gateway: unknown): IpamAddress {
  const c = typeof text === "string" ? tryParseCidr(text) : undefined;
  if (!c) throw bad(plugin, `address ${JSON.stringify(text)} is not address/prefix`);
  const out: IpamAddress = { family: c.family, address: `${c.address}/${c.prefix}` };
  if (gateway !== undefined && gateway !== null && gateway !== "") {
    const g = typeof gateway === "string" ? tryParseIp(gateway) : undefined;
    if (!g) throw bad(plugin, `gateway ${JSON.stringify(gateway)} is not an address`);
    out.gateway = g.text;
  }
  return out;
}

function routes(plugin: string, v: unknown): IpamRoute[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(plugin, "routes is not an array");
  return v.map((r: Obj) => {
    const dst = typeof r?.dst === "string" ? tryParseCidr(r.dst) : undefined;
    if (!dst) throw bad(plugin, `route dst ${JSON.stringify(r?.dst)} is not a CIDR`);
    const gw = typeof r.gw === "string" && r.gw !== "" ? tryParseIp(r.gw) : undefined;
    if (typeof r.gw === "string" && r.gw !== "" && !gw) throw bad(plugin, "route gw is invalid");
    return gw ? { dst: dst.text, gw: gw.text } : { dst: dst.text };
  });
}

function dns(v: unknown): IpamDns | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const d = v as Obj;
  const out: IpamDns = {};
  const strings = (x: unknown) =>
    Array.isArray(x) && x.every((s) => typeof s === "string") ? x as string[] : undefined;
  if (strings(d.nameservers)?.length) out.nameservers = strings(d.nameservers);
  if (typeof d.domain === "string" && d.domain !== "") out.domain = d.domain;
  if (strings(d.search)?.length) out.search = strings(d.search);
  if (strings(d.options)?.length) out.options = strings(d.options);
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * An IPAM result of any CNI version as an IpamResult: `ips[]` (0.3.0 and
 * later, with or without `version`) or `ip4`/`ip6` (0.1.0, 0.2.0, whose routes
 * live inside them).
 */
export function parseIpamResult(v: unknown, plugin = "ipam"): IpamResult {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(plugin, "not an object");
  const o = v as Obj;
  const out: IpamResult = { ips: [], routes: routes(plugin, o.routes) };
  if (Array.isArray(o.ips)) {
    for (const ip of o.ips as Obj[]) out.ips.push(address(plugin, ip?.address, ip?.gateway));
  } else {
    for (const key of ["ip4", "ip6"]) {
      const legacy = o[key] as Obj | undefined;
      if (!legacy) continue;
      out.ips.push(address(plugin, legacy.ip, legacy.gateway));
      out.routes.push(...routes(plugin, legacy.routes));
    }
  }
  const d = dns(o.dns);
  if (d) out.dns = d;
  return out;
}
