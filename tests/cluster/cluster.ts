/**
 * The simulated cluster shared by `deno task demo`, the e2e suite and the
 * data plane benchmark: the topology (topology.ts), a datastore
 * (datastores.ts), one `hostgate-agent run` per node INSIDE the node's
 * namespace with its own CNI bin/conf/IPAM dirs under a scratch dir (never
 * the machine's /opt/cni/bin or /etc/cni/net.d), pods made the way a runtime
 * makes them (runtime.ts), and a teardown that removes every process,
 * namespace and file, also when a step fails and on Ctrl-C.
 * @module
 */
import { NetnsSet, run, sh } from "../helpers/netns.ts";
import {
  AGENT_BIN,
  type ClusterOptions,
  type ClusterState,
  ECHO_SERVER,
  namespacesWith,
  type NodeDirs,
  PLUGIN_BIN,
  type Pod,
  PORTMAP_BIN,
  REPO_ROOT,
} from "./cluster_types.ts";
import { type Backend, startBackend } from "./datastores.ts";
import { hostgateRoutes, ipamFilesIn, linksIn } from "./probes.ts";
import { type Proc, spawnIn, stopProc, sweepNamespaces, tail } from "./procs.ts";
import { addPod, delPod, type NodeCni, type PortMapping } from "./runtime.ts";
import { buildTopology, type SimNode, type Topology } from "./topology.ts";
import { until } from "../helpers/until.ts";

export * from "./cluster_types.ts";

/** See the module doc. */
export class Cluster {
  readonly topo: Topology;
  readonly dir: string;
  readonly backend: Backend;
  readonly set: NetnsSet;
  readonly clusterCidr: string;
  readonly agents = new Map<string, Proc>();
  readonly pods = new Map<string, Pod>();
  readonly #opts: ClusterOptions;
  readonly #servers: Proc[] = [];
  #down: Promise<string[]> | undefined;
  #unsignal: (() => void) | undefined;

  private constructor(init: {
    opts: ClusterOptions;
    topo: Topology;
    dir: string;
    backend: Backend;
    set: NetnsSet;
  }) {
    this.#opts = init.opts;
    this.topo = init.topo;
    this.dir = init.dir;
    this.backend = init.backend;
    this.set = init.set;
    this.clusterCidr = init.opts.clusterCidr ?? "10.244.0.0/16";
  }

  /**
   * Builds namespaces and the datastore (no agents yet) and, unless
   * `signals` is false, installs the Ctrl-C teardown. A failure or a signal
   * while building removes what was built.
   */
  static async start(opts: ClusterOptions): Promise<Cluster> {
    await Deno.stat(AGENT_BIN).catch(() => {
      throw new Error(`Cannot start the cluster: ${AGENT_BIN} missing (run deno task bundle)`);
    });
    // Signals during the build only set a flag; the build stops at its next step.
    const caught: { sig?: "SIGINT" | "SIGTERM" } = {};
    const onInt = () => (caught.sig = "SIGINT");
    const onTerm = () => (caught.sig = "SIGTERM");
    const watch = opts.signals ?? true;
    if (watch) {
      Deno.addSignalListener("SIGINT", onInt);
      Deno.addSignalListener("SIGTERM", onTerm);
    }
    const check = () => {
      if (caught.sig) throw new Error(`Cannot start the cluster: ${caught.sig}`);
    };
    const set = new NetnsSet(opts.prefix);
    let backend: Backend | undefined;
    let dir = "";
    try {
      await set.cleanup();
      dir = await Deno.makeTempDir({ prefix: `${opts.prefix}-` });
      const topo = await buildTopology(set, { nodes: opts.nodes });
      check();
      for (const n of topo.nodes) {
        for (const d of ["bin", "conf", "ipam"]) {
          await Deno.mkdir(`${dir}/${n.name}/${d}`, { recursive: true });
        }
      }
      backend = await startBackend(opts.datastore ?? "file", {
        topo,
        dir,
        root: REPO_ROOT,
        clusterCidr: opts.clusterCidr ?? "10.244.0.0/16",
        detach: opts.detach ?? false,
      });
      check();
      const c = new Cluster({ opts, topo, dir, backend, set });
      if (watch) c.handleSignals();
      return c;
    } catch (e) {
      await backend?.close().catch(() => {});
      await sweepNamespaces(await namespacesWith(opts.prefix));
      await set.cleanup();
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      if (caught.sig) Deno.exit(caught.sig === "SIGINT" ? 130 : 143);
      throw e;
    } finally {
      if (watch) {
        Deno.removeSignalListener("SIGINT", onInt);
        Deno.removeSignalListener("SIGTERM", onTerm);
      }
    }
  }

  /** Progress line. */
  say(msg: string): void {
    (this.#opts.log ?? ((m: string) => console.error(m)))(msg);
  }

  /** The node named `name` ("n1"). */
  node(name: string): SimNode {
    const n = this.topo.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`Cannot find node ${name}`);
    return n;
  }

  /** Where node `name` keeps its CNI files. */
  dirs(name: string): NodeDirs {
    const d = `${this.dir}/${name}`;
    return {
      bin: `${d}/bin`,
      conf: `${d}/conf`,
      ipam: `${d}/ipam`,
      agentLog: `${d}/agent.log`,
      socket: `${d}/plugin.sock`,
    };
  }

  /** The pod subnet the Kubernetes store assigns to a node (10.244.<i>.0/24). */
  podCidrFor(name: string): string {
    const i = this.topo.nodes.findIndex((x) => x.name === name) + 1;
    const [a, b] = this.clusterCidr.split(".");
    return `${a}.${b}.${i}.0/24`;
  }

  /** Makes the node known to the datastore (Kubernetes only) and starts its agent. */
  async join(name: string): Promise<void> {
    await this.backend.addNode(this.node(name), this.podCidrFor(name));
    await this.startAgent(name);
  }

  /** Starts `hostgate-agent run` inside the node's namespace. */
  startAgent(name: string): Promise<void> {
    this.#live("start an agent");
    const node = this.node(name);
    const d = this.dirs(name);
    const proc = spawnIn({
      name: `agent ${name}`,
      netns: node.netns,
      log: d.agentLog,
      detach: this.#opts.detach,
      argv: [
        AGENT_BIN,
        "run",
        `--node-name=${name}`,
        ...this.backend.agentFlags(),
        `--cluster-cidr=${this.clusterCidr}`,
        `--cni-bin-dir=${d.bin}`,
        `--cni-conf-dir=${d.conf}`,
        `--ipam-dir=${d.ipam}`,
        `--plugin-src=${PLUGIN_BIN}`,
        `--extra-plugins=${PORTMAP_BIN}`,
        "--health-addr=127.0.0.1:9099",
        `--resync-interval=${this.#opts.resyncInterval ?? "30s"}`,
        ...(this.#opts.pluginSocket === false ? [] : [`--plugin-socket=${d.socket}`]),
        ...(this.#opts.agentFlags ?? []),
      ],
    });
    this.agents.set(name, proc);
    return Promise.resolve();
  }

  /** Stops node `name`'s agent with `sig` (SIGKILL: a crash) and waits until it is gone. */
  async stopAgent(name: string, sig: Deno.Signal = "SIGTERM"): Promise<void> {
    const p = this.agents.get(name);
    if (!p) return;
    this.agents.delete(name);
    await stopProc(p, { sig });
  }

  /** The pod subnet in node `name`'s conflist (undefined before the agent wrote it). */
  async subnetOf(name: string): Promise<string | undefined> {
    try {
      const text = await Deno.readTextFile(`${this.dirs(name).conf}/10-hostgate.conflist`);
      const conf = JSON.parse(text) as {
        plugins: { ipam?: { ranges?: { subnet: string }[][] } }[];
      };
      return conf.plugins[0]?.ipam?.ranges?.[0]?.[0]?.subnet;
    } catch {
      return undefined;
    }
  }

  /** What node `self` should route: every other member's subnet via its IP. */
  async expectedRoutes(self: string, members: string[]): Promise<string[] | undefined> {
    const out: string[] = [];
    for (const m of members) {
      if (m === self) continue;
      const subnet = await this.subnetOf(m);
      if (!subnet) return undefined;
      out.push(`${subnet} via ${this.node(m).ip}`);
    }
    return out.sort();
  }

  /**
   * Waits until each of `members` has written its conflist and routes to
   * exactly the other members (hostgate routes, protocol 151).
   */
  async waitMesh(members: string[], ms = 15_000): Promise<void> {
    try {
      await Promise.all(
        members.map((self) =>
          until(`${self} routing to ${members.filter((m) => m !== self).join(",")}`, async () => {
            const want = await this.expectedRoutes(self, members);
            if (!want) return false;
            // The agent's routes only (routed pods' host routes have no gateway); over
            // VXLAN the gateway is the peer's VTEP, so only the destinations are compared.
            const vxlan = (this.#opts.agentFlags ?? []).includes("--backend=vxlan");
            const have = (await hostgateRoutes(this.node(self).netns)).filter((r) => r.gateway)
              .map((r) => vxlan ? r.dst : `${r.dst} via ${r.gateway}`);
            const wanted = vxlan ? want.map((w) => w.split(" ")[0]!) : want;
            return JSON.stringify(have) === JSON.stringify(wanted) || undefined;
          }, { ms })
        ),
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await this.agentLogs()}`);
    }
  }

  /** Last lines of every agent's log, for failure messages. */
  async agentLogs(lines = 15): Promise<string> {
    const parts = await Promise.all(
      this.topo.nodes.map(async (n) =>
        `--- agent ${n.name} ---\n${await tail(this.dirs(n.name).agentLog, lines)}`
      ),
    );
    return parts.join("\n");
  }

  /**
   * Creates pod `podName` on node `nodeName` through the node's conflist
   * chain. The runtime's pod name (K8S_POD_NAME) is "<node>-<pod>" unless
   * `k8sName` gives one (the same name on two nodes: a rescheduled pod).
   */
  async addPod(
    nodeName: string,
    podName: string,
    opts: { portMappings?: PortMapping[]; k8sName?: string } = {},
  ): Promise<Pod> {
    this.#live("add a pod");
    const node = this.node(nodeName);
    const netns = await this.set.add(`${nodeName}-${podName}`);
    try {
      const att = await addPod({
        node: this.#cni(nodeName),
        containerId: `${netns}-${crypto.randomUUID().slice(0, 8)}`,
        netnsPath: this.set.path(netns),
        podName: opts.k8sName ?? `${nodeName}-${podName}`,
        portMappings: opts.portMappings,
      });
      const pod: Pod = { ...att, name: podName, label: `${nodeName}/${podName}`, node, netns };
      this.pods.set(pod.label, pod);
      return pod;
    } catch (e) {
      await run(["ip", "netns", "del", netns]);
      throw e;
    }
  }

  /** Runs DEL through the chain, then removes the pod's namespace. */
  async delPod(pod: Pod): Promise<void> {
    this.pods.delete(pod.label);
    try {
      await delPod(this.#cni(pod.node.name), pod);
    } finally {
      await run(["ip", "netns", "del", pod.netns]);
    }
  }

  /** Refuses new work once the teardown began (a Ctrl-C while building). */
  #live(what: string): void {
    if (this.#down) throw new Error(`Cannot ${what}: the cluster is being torn down`);
  }

  #cni(nodeName: string): NodeCni {
    const d = this.dirs(nodeName);
    return { netns: this.node(nodeName).netns, confDir: d.conf, binDir: d.bin };
  }

  /** Starts the echo server (answers with the peer address) in `netns` on `port`. */
  async startEchoServer(netns: string, port: number): Promise<Proc> {
    this.#live("start a server");
    const log = `${this.dir}/echo-${netns}-${port}.log`;
    const p = spawnIn({
      name: `echo ${netns}:${port}`,
      netns,
      log,
      argv: [Deno.execPath(), "run", "--allow-net", "--quiet", ECHO_SERVER, `--port=${port}`],
    });
    this.#servers.push(p);
    await until(`echo server in ${netns}`, async () => (await tail(log)).includes("listening"), {
      ms: 15_000,
    });
    return p;
  }

  /** Starts any long-running program in `netns`, stopped at teardown. */
  startServer(netns: string, name: string, argv: string[]): Proc {
    this.#live("start a server");
    const p = spawnIn({ name, netns, argv, log: `${this.dir}/${name}.log` });
    this.#servers.push(p);
    return p;
  }

  /** Gives node `name` a new address on the segment (and its default route back). */
  async changeNodeIp(name: string, ip: string): Promise<void> {
    const n = this.node(name);
    const prefix = this.topo.segment.split("/")[1];
    const gw = this.topo.segment.replace(/\.0\/24$/, ".1");
    await sh(["ip", "-n", n.netns, "addr", "del", `${n.ip}/${prefix}`, "dev", n.uplink]);
    await sh(["ip", "-n", n.netns, "addr", "add", `${ip}/${prefix}`, "dev", n.uplink]);
    await sh(["ip", "-n", n.netns, "route", "replace", "default", "via", gw]);
    n.ip = ip;
  }

  /** IP reservation files in node `name`'s IPAM dir (one per address in use). */
  ipamFiles(name: string): Promise<string[]> {
    return ipamFilesIn(this.dirs(name).ipam);
  }

  /** Link names inside `netns`. */
  links(netns: string): Promise<string[]> {
    return linksIn(netns);
  }

  /** Tears everything down on SIGINT/SIGTERM, then exits (130/143). */
  handleSignals(): void {
    if (this.#unsignal) return;
    const on = (sig: "SIGINT" | "SIGTERM", code: number) => {
      const fn = () => {
        this.say(`\n${sig}: tearing the cluster down`);
        this.teardown().finally(() => Deno.exit(code));
      };
      Deno.addSignalListener(sig, fn);
      return () => Deno.removeSignalListener(sig, fn);
    };
    const offs = [on("SIGINT", 130), on("SIGTERM", 143)];
    this.#unsignal = () => offs.forEach((f) => f());
  }

  /** Leaves everything running (demo --keep): returns what `cleanState` needs. */
  detach(): ClusterState {
    this.#unsignal?.();
    this.#unsignal = undefined;
    return {
      prefix: this.#opts.prefix,
      dir: this.dir,
      namespaces: this.topo.nodes.map((n) => n.netns),
      pids: [...this.agents.values(), ...this.backend.procs()].map((p) => ({
        pid: p.pid,
        name: p.name,
      })),
    };
  }

  /**
   * Removes everything: servers, pods (DEL through the chain), agents, the
   * datastore, every namespace with the prefix and the scratch dir.
   * Idempotent; returns the errors met (teardown itself never throws).
   */
  teardown(): Promise<string[]> {
    this.#down ??= this.#teardown();
    return this.#down;
  }

  async #teardown(): Promise<string[]> {
    const errors: string[] = [];
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    };
    await Promise.all(this.#servers.map((p) => step(p.name, () => stopProc(p))));
    await Promise.all(
      [...this.pods.values()].map((p) => step(`DEL ${p.label}`, () => this.delPod(p))),
    );
    await Promise.all(
      [...this.agents.keys()].map((n) => step(`agent ${n}`, () => this.stopAgent(n))),
    );
    await step("datastore", () => this.backend.close());
    // Twice: a step of the interrupted flow may have been half way through making one.
    for (let i = 0; i < 2; i++) {
      await step("processes", async () => sweepNamespaces(await namespacesWith(this.#opts.prefix)));
      await step("namespaces", () => this.set.cleanup());
    }
    await step("scratch dir", () => Deno.remove(this.dir, { recursive: true }));
    this.#unsignal?.();
    this.#unsignal = undefined;
    return errors;
  }
}
