/**
 * A container runtime's CNI side, as libcni does it: read the node's
 * conflist, run every plugin of the chain with the CNI environment, pass each
 * result on as the next plugin's prevResult, and DEL in reverse order with
 * the cached result. Plugins run inside the node's netns.
 * @module
 */
import { run } from "../helpers/netns.ts";

/** One port mapping (the portMappings capability). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** Where a node keeps its CNI files. */
export interface NodeCni {
  /** Node netns name. */
  netns: string;
  confDir: string;
  binDir: string;
  /** Extra CNI_PATH entries after binDir (e.g. /usr/lib/cni for portmap). */
  extraPath?: string[];
}

/** A pod attachment made by `addPod`. */
export interface PodAttachment {
  containerId: string;
  netnsPath: string;
  ifname: string;
  podName: string;
  podNamespace: string;
  portMappings: PortMapping[];
  /** The final result of the chain (cached like libcni does). */
  result: Record<string, unknown>;
  /** First IPv4 address of the result, no prefix. */
  ip: string;
}

/** Input of `addPod`. */
export interface AddPodOptions {
  node: NodeCni;
  containerId: string;
  netnsPath: string;
  podName: string;
  podNamespace?: string;
  ifname?: string;
  portMappings?: PortMapping[];
}

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

/** Reads the first conflist of `confDir` (sorted by name, as libcni does). */
export async function readConflist(confDir: string): Promise<Conflist> {
  const names: string[] = [];
  for await (const e of Deno.readDir(confDir)) {
    if (e.isFile && e.name.endsWith(".conflist")) names.push(e.name);
  }
  names.sort();
  if (!names[0]) throw new Error(`Cannot find a conflist: none in ${confDir}`);
  return JSON.parse(await Deno.readTextFile(`${confDir}/${names[0]}`)) as Conflist;
}

function pluginConfig(
  list: Conflist,
  plugin: Record<string, unknown>,
  opts: { prevResult?: unknown; portMappings: PortMapping[] },
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const caps = (plugin.capabilities ?? {}) as Record<string, boolean>;
  delete conf.capabilities;
  if (caps.portMappings && opts.portMappings.length) {
    conf.runtimeConfig = { portMappings: opts.portMappings };
  }
  if (opts.prevResult !== undefined) conf.prevResult = opts.prevResult;
  return conf;
}

async function exec(
  node: NodeCni,
  plugin: Record<string, unknown>,
  env: Record<string, string>,
  conf: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const type = String(plugin.type);
  const path = [node.binDir, ...(node.extraPath ?? [])];
  let bin = "";
  for (const dir of path) {
    try {
      await Deno.stat(`${dir}/${type}`);
      bin = `${dir}/${type}`;
      break;
    } catch { /* next */ }
  }
  if (!bin) throw new Error(`Cannot find plugin ${type}: not in ${path.join(":")}`);
  const r = await run(["ip", "netns", "exec", node.netns, bin], {
    clearEnv: true,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CNI_PATH: path.join(":"), ...env },
    stdin: JSON.stringify(conf),
  });
  if (r.code !== 0) {
    throw new Error(
      `Cannot ${env.CNI_COMMAND} with plugin ${type}: exit ${r.code}: ${r.stdout} ${r.stderr}`,
    );
  }
  return r.stdout.trim() ? JSON.parse(r.stdout) as Record<string, unknown> : {};
}

function cniEnv(cmd: string, a: {
  containerId: string;
  netnsPath: string;
  ifname: string;
  podName: string;
  podNamespace: string;
}): Record<string, string> {
  return {
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netnsPath,
    CNI_IFNAME: a.ifname,
    CNI_ARGS:
      `IgnoreUnknown=1;K8S_POD_NAMESPACE=${a.podNamespace};K8S_POD_NAME=${a.podName};K8S_POD_INFRA_CONTAINER_ID=${a.containerId}`,
  };
}

/** Runs ADD through the whole chain; DELs what succeeded when a plugin fails. */
export async function addPod(opts: AddPodOptions): Promise<PodAttachment> {
  const list = await readConflist(opts.node.confDir);
  const a = {
    containerId: opts.containerId,
    netnsPath: opts.netnsPath,
    ifname: opts.ifname ?? "eth0",
    podName: opts.podName,
    podNamespace: opts.podNamespace ?? "default",
    portMappings: opts.portMappings ?? [],
  };
  let prev: Record<string, unknown> | undefined;
  try {
    for (const plugin of list.plugins) {
      const conf = pluginConfig(list, plugin, { prevResult: prev, portMappings: a.portMappings });
      prev = await exec(opts.node, plugin, cniEnv("ADD", a), conf);
    }
  } catch (e) {
    await delPodWith(opts.node, list, { ...a, result: prev ?? {}, ip: "" }).catch(() => {});
    throw e;
  }
  const result = prev ?? {};
  const ips = (result.ips ?? []) as { address: string }[];
  const v4 = ips.map((i) => i.address.split("/")[0]!).find((ip) => ip.includes("."));
  return { ...a, result, ip: v4 ?? "" };
}

async function delPodWith(node: NodeCni, list: Conflist, pod: PodAttachment): Promise<void> {
  const errors: string[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    const conf = pluginConfig(list, plugin, {
      prevResult: pod.result,
      portMappings: pod.portMappings,
    });
    try {
      await exec(node, plugin, cniEnv("DEL", pod), conf);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length) throw new Error(`Cannot delete pod ${pod.podName}: ${errors.join("; ")}`);
}

/** Runs DEL through the chain in reverse order with the cached result. */
export async function delPod(node: NodeCni, pod: PodAttachment): Promise<void> {
  await delPodWith(node, await readConflist(node.confDir), pod);
}
