/**
 * A delegated IPAM plugin (any `ipam.type` other than hostgate's own), run as
 * the CNI spec says: found by name in CNI_PATH, executed with the CNI
 * environment and the whole network config on stdin, its result (0.1.0 ..
 * 1.1.0 shapes) turned into an IpamResult and its error JSON passed through
 * as a CniError with the plugin's own code. So the reference host-local,
 * static and dhcp plugins work unchanged.
 * @module
 */
import {
  type CniCommand,
  cniPathDirs,
  type CniResult,
  decodeError,
  decodeResult,
  encodeEnv,
  type EnvCall,
  type Fail,
  hasDns,
  versionAtLeast,
} from "../cni/mod.ts";
import { CniCode, CniError } from "../errors.ts";
import { tryParseCidr, tryParseIp } from "../net/mod.ts";
import type { Exec, ExecResult } from "../system/exec.ts";
import type { FileSystem } from "../system/fs.ts";
import { IpamPluginNotFoundError, IpamUnavailableError } from "./errors.ts";
import type { Attachment, Ipam, IpamAddress, IpamOwner, IpamResult } from "./types.ts";

/** libcni's code for an error without a CNI error JSON ("internal"). */
export const DELEGATE_INTERNAL_ERROR = CniCode.Internal;

/** Most characters of a delegate's output kept in an error's details. */
const MAX_DETAILS_CHARS = 2000;
/** Oldest version with CHECK; a delegate is not asked to CHECK below it. */
const CHECK_SINCE = "0.4.0";
/** Oldest version with GC and STATUS. */
const GC_STATUS_SINCE = "1.1.0";

/** The parts of the plugin's CNI environment a delegate inherits (CNI_ARGS raw, unchanged). */
export type CniEnvLike = Omit<EnvCall, "command">;

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
    command: CniCommand,
    owner: Partial<IpamOwner>,
    config: Record<string, unknown>,
  ): Promise<ExecResult> {
    const bin = await this.locate();
    const env = this.#o.env;
    const vars = encodeEnv({
      command,
      containerId: owner.containerId ?? env.containerId,
      netns: env.netns,
      ifname: owner.ifname ?? env.ifname,
      args: env.args,
      path: env.path,
    });
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
    return decodeError(r.stdout, `IPAM plugin ${this.plugin} failed`) ?? new CniError(
      DELEGATE_INTERNAL_ERROR,
      `Cannot ${command} with IPAM plugin ${this.plugin}: exit ${r.code}`,
      (r.stderr || r.stdout).trim().slice(0, MAX_DETAILS_CHARS),
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
        r.stdout.slice(0, MAX_DETAILS_CHARS),
      );
    }
    return parseIpamResult(parsed, this.plugin);
  }

  async del(owner: IpamOwner): Promise<void> {
    await this.#run("DEL", owner, this.#o.config);
  }

  async check(owner: IpamOwner, _ips: string[]): Promise<void> {
    // CHECK exists from 0.4.0 on; the delegate compares prevResult itself.
    if (!versionAtLeast(this.#o.cniVersion, CHECK_SINCE)) return;
    await this.#run("CHECK", owner, this.#o.config);
  }

  async gc(valid: Attachment[]): Promise<void> {
    if (!versionAtLeast(this.#o.cniVersion, GC_STATUS_SINCE)) return;
    const attachments = valid.map((a) => ({ containerID: a.containerId, ifname: a.ifname }));
    await this.#run("GC", {}, { ...this.#o.config, "cni.dev/valid-attachments": attachments });
  }

  async status(): Promise<void> {
    try {
      await this.locate();
    } catch (e) {
      throw new IpamUnavailableError((e as Error).message, "", { cause: e });
    }
    if (!versionAtLeast(this.#o.cniVersion, GC_STATUS_SINCE)) return;
    await this.#run("STATUS", {}, this.#o.config);
  }
}

function bad(plugin: string, why: string): CniError {
  return new CniError(
    CniCode.DecodeFailure,
    `Cannot decode the result of IPAM plugin ${plugin}: ${why}`,
  );
}

function address(plugin: string, text: string, gateway: string | undefined): IpamAddress {
  const c = tryParseCidr(text);
  if (!c) throw bad(plugin, `address ${JSON.stringify(text)} is not address/prefix`);
  const out: IpamAddress = { family: c.family, address: `${c.address}/${c.prefix}` };
  if (gateway !== undefined && gateway !== "") {
    const g = tryParseIp(gateway);
    if (!g) throw bad(plugin, `gateway ${JSON.stringify(gateway)} is not an address`);
    out.gateway = g.text;
  }
  return out;
}

function gatewayOf(plugin: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw bad(plugin, `gateway ${JSON.stringify(v)} is not an address`);
  return v;
}

/**
 * A delegate's result of any CNI version (decoded by src/cni: `ips[]` with
 * or without `version`, or 0.1.0/0.2.0 `ip4`/`ip6`) as an IpamResult, each
 * address, gateway and route checked and canonical. Anything malformed is
 * code 6: the plugin's output cannot be decoded.
 */
export function parseIpamResult(v: unknown, plugin = "ipam"): IpamResult {
  const fail: Fail = (key, why) => bad(plugin, `${key} ${why}`);
  const r: CniResult = decodeResult(v, { key: "result", fail });
  const out: IpamResult = {
    ips: r.ips.map((ip) => address(plugin, ip.address, gatewayOf(plugin, ip.gateway))),
    routes: r.routes.map((route) => {
      const dst = tryParseCidr(route.dst);
      if (!dst) throw bad(plugin, `route dst ${JSON.stringify(route.dst)} is not a CIDR`);
      const gwText = route.gw;
      if (gwText === undefined || gwText === null || gwText === "") return { dst: dst.text };
      const gw = typeof gwText === "string" ? tryParseIp(gwText) : undefined;
      if (!gw) throw bad(plugin, "route gw is invalid");
      return { dst: dst.text, gw: gw.text };
    }),
  };
  if (hasDns(r.dns)) out.dns = r.dns;
  return out;
}
