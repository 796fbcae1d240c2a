/**
 * Runs a CNI plugin binary exactly as a container runtime does: inside the
 * node's network namespace, with a cleared environment holding only the
 * CNI_* variables, the network config on stdin, and the result or error
 * JSON read back from stdout. The default plugin is dist/bundle/hostgate
 * (run `deno task bundle` first).
 * @module
 */
import { type NetnsSet, run, type RunResult, withNetns } from "./netns.ts";

/** dist/bundle/hostgate of this checkout. */
export const HOSTGATE = new URL("../../dist/bundle/hostgate", import.meta.url).pathname;
/** The Debian reference plugins. */
export const REFERENCE_PLUGINS = "/usr/lib/cni";

/** One plugin invocation. */
export interface CniCall {
  /** ADD, DEL, CHECK, GC, STATUS, VERSION (or anything, to test bad input). */
  command: string;
  /** Network config: an object is JSON-encoded, a string is sent as is. */
  conf: Record<string, unknown> | string;
  containerId?: string;
  /** Netns path (CNI_NETNS); omitted when undefined. */
  netns?: string;
  ifname?: string;
  /** CNI_ARGS. */
  args?: string;
  /** CNI_PATH; defaults to the reference plugin directory. */
  path?: string;
  /** Extra or overriding variables; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  /** Plugin binary; defaults to HOSTGATE. */
  plugin?: string;
}

/** What the plugin left. */
export interface CniOutcome {
  /** Exit code. */
  code: number;
  /** Parsed stdout, when it held JSON. */
  json?: Record<string, unknown>;
  stdout: string;
  stderr: string;
}

/** PATH a runtime hands its plugins (libcni passes the runtime's own environment on). */
export const RUNTIME_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The environment of `call`: PATH as a runtime passes it, plus the CNI_*
 * variables the call defines; nothing else of the test's environment leaks in.
 */
export function cniEnv(call: CniCall): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: RUNTIME_PATH,
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifname,
    CNI_ARGS: call.args,
    CNI_PATH: call.path ?? REFERENCE_PLUGINS,
    ...call.env,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function parse(r: RunResult): CniOutcome {
  const out: CniOutcome = { code: r.code, stdout: r.stdout, stderr: r.stderr };
  const text = r.stdout.trim();
  if (text) {
    try {
      out.json = JSON.parse(text);
    } catch {
      // Not JSON: left for the test to assert on stdout.
    }
  }
  return out;
}

/** Runs `call` inside the netns named `node` (e.g. from `NetnsSet.add`). */
export async function cni(node: string, call: CniCall): Promise<CniOutcome> {
  const stdin = typeof call.conf === "string" ? call.conf : JSON.stringify(call.conf);
  const r = await run(
    ["/usr/sbin/ip", "netns", "exec", node, call.plugin ?? HOSTGATE],
    { env: cniEnv(call), clearEnv: true, stdin },
  );
  return parse(r);
}

/** Throws with the plugin's error unless it exited 0. */
export function expectOk(out: CniOutcome, what: string): CniOutcome {
  if (out.code !== 0) {
    throw new Error(`${what} failed: exit ${out.code}: ${out.stdout.trim()} ${out.stderr.trim()}`);
  }
  return out;
}

/** Fails fast with a hint when the bundle was not built. */
export async function requireBundle(): Promise<void> {
  try {
    await Deno.stat(HOSTGATE);
  } catch {
    throw new Error(`Cannot find ${HOSTGATE}: run \`deno task bundle\` first`);
  }
}

/** A simulated node for plugin tests: its netns, an IPAM data dir, pods. */
export interface PluginNode {
  ns: NetnsSet;
  /** Name of the node netns (the plugin runs here). */
  node: string;
  /** The hostgate-local dataDir (a temp dir, removed afterwards). */
  dataDir: string;
  /** Network name used by `conf`. */
  network: string;
  /**
   * A hostgate network config: isDefaultGateway, hostgate-local IPAM on
   * `subnet` (default 10.77.0.0/24) in `dataDir`; `extra` overrides top-level
   * keys and `ipam` overrides IPAM keys.
   */
  conf(opts?: { extra?: Record<string, unknown>; ipam?: Record<string, unknown> }): Record<
    string,
    unknown
  >;
  /** Creates pod netns `<prefix>-<name>` and returns its path (for CNI_NETNS). */
  pod(name: string): Promise<string>;
  /** Runs the plugin in the node netns. */
  call(c: CniCall): Promise<CniOutcome>;
  /**
   * Runs `command` for attachment `c.containerId` on interface eth0, as a
   * runtime does for an ordinary pod: the call most tests repeat.
   */
  eth0(command: string, c: Omit<CniCall, "command" | "ifname">): Promise<CniOutcome>;
}

/**
 * Runs `fn` with a fresh node netns and IPAM dir; every netns made and the
 * dir are removed afterwards, also when `fn` throws.
 */
export async function withPluginNode(
  prefix: string,
  fn: (n: PluginNode) => Promise<void>,
): Promise<void> {
  await requireBundle();
  await withNetns(prefix, async (ns) => {
    const node = await ns.add("node");
    const dataDir = await Deno.makeTempDir({ prefix: `${prefix}-ipam-` });
    const network = `${prefix}-net`;
    try {
      await fn({
        ns,
        node,
        dataDir,
        network,
        conf: (opts = {}) => ({
          cniVersion: "1.1.0",
          name: network,
          type: "hostgate",
          isDefaultGateway: true,
          ...opts.extra,
          ipam: { type: "hostgate-local", subnet: "10.77.0.0/24", dataDir, ...opts.ipam },
        }),
        pod: async (name) => ns.path(await ns.add(name)),
        call: (c) => cni(node, c),
        eth0: (command, c) => cni(node, { ...c, command, ifname: "eth0" }),
      });
    } finally {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  });
}

/** `ip -j [-n netns] args...` parsed. */
export async function ipJson(netns: string | undefined, args: string[]): Promise<unknown[]> {
  const argv = ["/usr/sbin/ip", "-j", ...(netns ? ["-n", netns] : []), ...args];
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`Cannot run ${argv.join(" ")}: ${r.stderr.trim()}`);
  const text = r.stdout.trim();
  return text ? JSON.parse(text) as unknown[] : [];
}

/** The basename of a netns path ("/run/netns/x" -> "x"). */
export function netnsName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The addresses ("10.77.0.2/24") of a CNI result's `ips`, in order. */
export function addressesOf(res: Record<string, unknown> | undefined): string[] {
  return ((res?.["ips"] ?? []) as { address: string }[]).map((i) => i.address);
}

/**
 * The reserved-IP files of the node's network in its IPAM dir, sorted.
 * A missing network dir throws unless `missingIsEmpty`.
 */
export async function ipFiles(
  n: PluginNode,
  opts: { missingIsEmpty?: boolean } = {},
): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${n.dataDir}/${n.network}`)) {
      if (/^\d+\.\d+\.\d+\.\d+$/.test(e.name) || e.name.includes(":")) out.push(e.name);
    }
  } catch (e) {
    if (!(opts.missingIsEmpty && e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}
