/**
 * A two-segment machine room for the overlay test and benchmark: segment A
 * (172.31.1.0/24) and segment B (172.31.2.0/24), each one switch namespace,
 * joined by a router namespace; node namespaces plug into a segment with a
 * default route via the router, and run `hostgate-agent run` (the bundle)
 * against the file datastore. Pods are made through the node's conflist with
 * the cluster runtime. Nothing touches the root netns; `NetnsSet.cleanup`
 * and `stopAll` remove everything.
 * @module
 */
import { addPod, type NodeCni, type PodAttachment } from "../cluster/runtime.ts";
import { type NetnsSet, run, sh } from "./netns.ts";
import { addSwitch, plug } from "./switch.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The bundled agent and plugin (run `deno task bundle` first). */
export const AGENT = `${ROOT}dist/bundle/hostgate-agent`;
export const PLUGIN = `${ROOT}dist/bundle/hostgate`;

/** Segment name to its first three octets. */
export const SEGMENTS = { a: "172.31.1", b: "172.31.2" } as const;
export type Segment = keyof typeof SEGMENTS;

/** One node of the lab. */
export interface LabNode {
  name: string;
  netns: string;
  segment: Segment;
  /** Node IP, no prefix. */
  ip: string;
}

interface Agent {
  child: Deno.ChildProcess;
  done: Promise<Deno.CommandStatus>;
}

/** How the lab waits (`until` of helpers/until.ts): agents in namespaces converge within seconds. */
export const LAB_WAIT = { ms: 15_000, everyMs: 150 };

/** The lab: switches, router, nodes, agents and pods. */
export class VxlanLab {
  readonly set: NetnsSet;
  /** Temp dir holding the store, every node's CNI dirs and the agent logs. */
  readonly tmp: string;
  readonly nodes = new Map<string, LabNode>();
  readonly #agents = new Map<string, Agent>();
  readonly #agentFlags: string[];
  #routerNs = "";
  #switches: Record<Segment, string> = { a: "", b: "" };

  constructor(set: NetnsSet, tmp: string, agentFlags: string[] = []) {
    this.set = set;
    this.tmp = tmp;
    this.#agentFlags = agentFlags;
  }

  /** Builds both switches and the router. */
  async build(): Promise<void> {
    for (const seg of ["a", "b"] as const) {
      const sw = await addSwitch(this.set, { name: `sw${seg}`, isolate: true });
      this.#switches[seg] = sw;
    }
    this.#routerNs = await this.set.add("rt");
    await this.#plug(this.#routerNs, "a", "eth0", "rt-a", `${SEGMENTS.a}.1`);
    await this.#plug(this.#routerNs, "b", "eth1", "rt-b", `${SEGMENTS.b}.1`);
    await sh(["ip", "netns", "exec", this.#routerNs, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  }

  async #plug(ns: string, seg: Segment, ifname: string, port: string, ip: string): Promise<void> {
    await plug({ sw: this.#switches[seg], netns: ns, ifname, port, cidr: `${ip}/24` });
  }

  /**
   * Adds node `name` on `seg` at host number `host`, default route via the
   * router, FORWARD policy DROP (as on a real node: hostgate's rules must
   * let pod traffic through).
   */
  async addNode(name: string, seg: Segment, host: number): Promise<LabNode> {
    const netns = await this.set.add(name);
    const ip = `${SEGMENTS[seg]}.${host}`;
    await this.#plug(netns, seg, "eth0", `p-${name}`, ip);
    await sh(["ip", "-n", netns, "route", "add", "default", "via", `${SEGMENTS[seg]}.1`]);
    await sh(["ip", "netns", "exec", netns, "iptables-nft", "-P", "FORWARD", "DROP"]);
    const node = { name, netns, segment: seg, ip };
    this.nodes.set(name, node);
    return node;
  }

  /** Moves a node to another address, on its segment or (with `seg`) on the other one. */
  async moveNode(name: string, host: number, seg?: Segment): Promise<void> {
    const n = this.node(name);
    const to = seg ?? n.segment;
    if (to !== n.segment) {
      const port = `p-${name}`;
      await sh([
        "ip",
        "-n",
        this.#switches[n.segment],
        "link",
        "set",
        port,
        "netns",
        this.#switches[to],
      ]);
      await sh(["ip", "-n", this.#switches[to], "link", "set", port, "master", "br0", "up"]);
    }
    const ip = `${SEGMENTS[to]}.${host}`;
    // Deleting the primary address also drops the default route; add both back.
    await sh(["ip", "-n", n.netns, "addr", "del", `${n.ip}/24`, "dev", "eth0"]);
    await sh(["ip", "-n", n.netns, "addr", "add", `${ip}/24`, "dev", "eth0"]);
    await sh(["ip", "-n", n.netns, "route", "replace", "default", "via", `${SEGMENTS[to]}.1`]);
    this.nodes.set(name, { ...n, segment: to, ip });
  }

  node(name: string): LabNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`Cannot find lab node ${name}`);
    return n;
  }

  /** The node's CNI dirs for the runtime. */
  cni(name: string): NodeCni {
    const d = `${this.tmp}/${name}`;
    return {
      netns: this.node(name).netns,
      confDir: `${d}/conf`,
      binDir: `${d}/bin`,
      extraPath: ["/usr/lib/cni"],
    };
  }

  /** The argv of an agent subcommand inside the node (file datastore, per-node dirs). */
  agentArgv(name: string, command: string, extra: string[] = []): string[] {
    const d = `${this.tmp}/${name}`;
    return [
      "ip",
      "netns",
      "exec",
      this.node(name).netns,
      AGENT,
      command,
      `--node-name=${name}`,
      `--cni-conf-dir=${d}/conf`,
      `--ipam-dir=${d}/ipam`,
      ...(command === "uninstall" ? [] : [
        "--datastore=file",
        `--store-dir=${this.tmp}/store`,
        "--cluster-cidr=10.244.0.0/16",
      ]),
      ...this.#agentFlags,
      ...extra,
    ];
  }

  /** Starts `hostgate-agent run` in the node; its log goes to <tmp>/<name>.log. */
  async start(name: string): Promise<void> {
    const d = `${this.tmp}/${name}`;
    const [cmd, ...args] = this.agentArgv(name, "run", [
      `--cni-bin-dir=${d}/bin`,
      `--plugin-src=${PLUGIN}`,
      "--resync-interval=60s",
      "--health-addr=127.0.0.1:9099",
      "--log-level=debug",
    ]);
    const child = new Deno.Command(cmd!, { args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
    const log = await Deno.open(`${this.tmp}/${name}.log`, {
      write: true,
      create: true,
      append: true,
    });
    // Copied chunk by chunk: pipeTo(file.writable) holds data back until the process ends.
    (async () => {
      for await (const chunk of child.stderr) {
        for (let off = 0; off < chunk.length;) off += await log.write(chunk.subarray(off));
      }
    })().catch(() => {}).finally(() => log.close());
    this.#agents.set(name, { child, done: child.status });
  }

  /** Signals the node's agent and waits for it to exit. */
  async kill(name: string, signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const a = this.#agents.get(name);
    if (!a) return;
    try {
      a.child.kill(signal);
    } catch {
      // already gone
    }
    await a.done;
    this.#agents.delete(name);
  }

  /** Kills every agent this lab started. */
  async stopAll(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    for (const n of [...this.#agents.keys()]) await this.kill(n, signal);
  }

  /** True when the node's agent answers /readyz with ok. */
  async ready(name: string): Promise<boolean> {
    const r = await run([
      "ip",
      "netns",
      "exec",
      this.node(name).netns,
      "curl",
      "-s",
      "-m",
      "2",
      "http://127.0.0.1:9099/readyz",
    ]);
    return r.stdout === "ok\n";
  }

  /** The node's datastore entry. */
  async entry(name: string): Promise<{ podCidrs: string[]; vtep?: { ip: string; mac: string } }> {
    return JSON.parse(await Deno.readTextFile(`${this.tmp}/store/nodes/${name}.json`));
  }

  /** A pod netns `pod` on node `name`, attached through the node's conflist. */
  async pod(name: string, pod: string): Promise<PodAttachment> {
    const netns = await this.set.add(pod);
    return await addPod({
      node: this.cni(name),
      containerId: `c-${pod}`,
      netnsPath: this.set.path(netns),
      podName: pod,
    });
  }

  /** Last lines of every agent log, for a failure message. */
  async logs(lines = 30): Promise<string> {
    const out: string[] = [];
    for (const n of this.nodes.keys()) {
      const text = await Deno.readTextFile(`${this.tmp}/${n}.log`).catch(() => "");
      out.push(`--- agent ${n} ---`, ...text.split("\n").slice(-lines));
    }
    return out.join("\n");
  }
}
