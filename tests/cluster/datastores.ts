/**
 * The three datastores of the simulated cluster, behind one small interface
 * the harness and the checks use: the flags an agent needs, and the admin
 * actions a test performs (make a node known, delete it). etcd and the test
 * apiserver run INSIDE the router namespace, listening on its node-segment
 * address, and are driven from there (etcd_ctl.ts, apiserver_main.ts'
 * stdin): nothing listens or connects in the root namespace.
 * @module
 */
import { deleteNodeEntry } from "../../src/datastore/file/mod.ts";
import { run, sh } from "../helpers/netns.ts";
import { httpGet } from "./probes.ts";
import { type Proc, readLineMatching, spawnIn, stopProc, tail } from "./procs.ts";
import type { SimNode, Topology } from "./topology.ts";
import { until } from "../helpers/until.ts";

/** The datastores an agent can use. */
export type DatastoreKind = "file" | "etcd" | "kubernetes";

/** All of them, in the order the e2e suite runs them. */
export const DATASTORE_KINDS: readonly DatastoreKind[] = ["file", "etcd", "kubernetes"];

/** A running datastore of the simulated cluster. */
export interface Backend {
  readonly kind: DatastoreKind;
  /** `hostgate-agent run` flags selecting and reaching it. */
  agentFlags(): string[];
  /**
   * Makes a node known before its agent starts. Only the Kubernetes store
   * needs it (a Node object with spec.podCIDR and its InternalIP, as the
   * kubelet and controller-manager would write); the agent registers itself
   * in the others.
   */
  addNode(node: SimNode, podCidr: string): Promise<void>;
  /** Deletes a node from the store, as an admin does. */
  removeNode(name: string): Promise<void>;
  /** Kubernetes only: creates or replaces any served object (an IPPool, ...). */
  putObject?(resource: string, object: Record<string, unknown>): Promise<unknown>;
  /** Kubernetes only: the objects of a served resource ("ipallocations.hostgate.io"). */
  listObjects?(resource: string): Promise<Record<string, unknown>[]>;
  /** Processes to list in a kept cluster's state. */
  procs(): Proc[];
  /** etcd only: writes a raw value (hostile-entry tests), from inside the router namespace. */
  putRaw?(key: string, value: string): Promise<void>;
  /**
   * etcd and Kubernetes: stops the server (an outage) and starts it again on
   * the same data (the test apiserver closes and reopens its port).
   */
  stopServer?(): Promise<void>;
  startServer?(): Promise<void>;
  /**
   * etcd only: while on, the router answers the nodes' connections to etcd
   * with a TCP reset, as a stopped server's host does; the router's own
   * clients (putRaw, the health probe) still reach it. Lets a test write to
   * a running etcd the agents cannot see yet, then end the outage at once.
   */
  blockClients?(on: boolean): Promise<void>;
  /** Stops its processes. */
  close(): Promise<void>;
}

/** What a backend is built from. */
export interface BackendContext {
  topo: Topology;
  /** Scratch directory of this cluster. */
  dir: string;
  /** Repository root (for deno.json and the control scripts). */
  root: string;
  clusterCidr: string;
  /** Processes survive the harness (demo --keep). */
  detach: boolean;
}

/** Starts the datastore `kind`. */
export function startBackend(kind: DatastoreKind, ctx: BackendContext): Promise<Backend> {
  switch (kind) {
    case "file":
      return Promise.resolve(fileBackend(ctx));
    case "etcd":
      return etcdBackend(ctx);
    case "kubernetes":
      return kubernetesBackend(ctx);
  }
}

/** The router's address on the node segment (172.30.0.1). */
function routerIp(topo: Topology): string {
  return topo.segment.replace(/\.0\/24$/, ".1");
}

function fileBackend(ctx: BackendContext): Backend {
  const dir = `${ctx.dir}/store`;
  return {
    kind: "file",
    agentFlags: () => ["--datastore=file", `--store-dir=${dir}`],
    addNode: () => Promise.resolve(),
    removeNode: async (name) => {
      if (!(await deleteNodeEntry(name, { dir }))) {
        throw new Error(`Cannot remove node ${name} from the file store: no entry`);
      }
    },
    procs: () => [],
    close: () => Promise.resolve(),
  };
}

async function etcdBackend(ctx: BackendContext): Promise<Backend> {
  const ip = routerIp(ctx.topo);
  const endpoint = `http://${ip}:2379`;
  const peer = "http://127.0.0.1:2380";
  const spawnEtcd = () =>
    spawnIn({
      name: "etcd",
      netns: ctx.topo.routerNs,
      log: `${ctx.dir}/etcd.log`,
      detach: ctx.detach,
      argv: [
        "etcd",
        "--name=hgc",
        `--data-dir=${ctx.dir}/etcd`,
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=hgc=${peer}`,
        "--initial-cluster-state=new",
        "--logger=zap",
        "--log-level=warn",
      ],
    });
  const healthy = async () => {
    try {
      await until("etcd healthy", async () => {
        const body = await httpGet(ctx.topo.routerNs, `${endpoint}/health`);
        return body?.includes('"health":"true"');
      }, { ms: 15_000 });
    } catch (e) {
      await stopProc(proc);
      throw new Error(`${(e as Error).message}\n${await tail(proc.log)}`);
    }
  };
  let proc = spawnEtcd();
  await healthy();
  const ctl = (args: string[]) =>
    run([
      "ip",
      "netns",
      "exec",
      ctx.topo.routerNs,
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      `--config=${ctx.root}deno.json`,
      `${ctx.root}tests/cluster/etcd_ctl.ts`,
      ...args,
      `--endpoints=${endpoint}`,
      `--cluster-cidr=${ctx.clusterCidr}`,
    ]);
  return {
    kind: "etcd",
    agentFlags: () => ["--datastore=etcd", `--etcd-endpoints=${endpoint}`],
    addNode: () => Promise.resolve(),
    removeNode: async (name) => {
      const r = await run([
        "ip",
        "netns",
        "exec",
        ctx.topo.routerNs,
        Deno.execPath(),
        "run",
        "-A",
        "--quiet",
        `--config=${ctx.root}deno.json`,
        `${ctx.root}tests/cluster/etcd_ctl.ts`,
        "remove",
        `--endpoints=${endpoint}`,
        `--cluster-cidr=${ctx.clusterCidr}`,
        `--name=${name}`,
      ]);
      if (r.code !== 0 || !r.stdout.includes('"removed":true')) {
        throw new Error(`Cannot remove node ${name} from etcd: ${r.stdout}${r.stderr}`);
      }
    },
    putRaw: async (key, value) => {
      const r = await ctl(["put", `--key=${key}`, `--value=${value}`]);
      if (r.code !== 0) throw new Error(`Cannot put ${key} in etcd: ${r.stdout}${r.stderr}`);
    },
    stopServer: () => stopProc(proc),
    startServer: async () => {
      proc = spawnEtcd();
      await healthy();
    },
    blockClients: async (on) => {
      const rule = ["INPUT", "-p", "tcp", "--dport", "2379", "!", "-i", "lo"];
      await sh([
        "ip",
        "netns",
        "exec",
        ctx.topo.routerNs,
        "iptables",
        "-w",
        on ? "-I" : "-D",
        ...rule,
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
      ]);
    },
    procs: () => [proc],
    close: () => stopProc(proc),
  };
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

async function kubernetesBackend(ctx: BackendContext): Promise<Backend> {
  if (ctx.detach) {
    throw new Error("Cannot keep a Kubernetes-store cluster: its apiserver lives with the harness");
  }
  const kubeconfig = `${ctx.dir}/kubeconfig`;
  const proc = spawnIn({
    name: "apiserver",
    netns: ctx.topo.routerNs,
    log: `${ctx.dir}/apiserver.log`,
    pipes: true,
    argv: [
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      `--config=${ctx.root}deno.json`,
      `${ctx.root}tests/cluster/apiserver_main.ts`,
      `--hostname=${routerIp(ctx.topo)}`,
      `--kubeconfig=${kubeconfig}`,
    ],
  });
  let reader: ReadableStreamDefaultReader<string>;
  try {
    reader = (await readLineMatching(proc.child.stdout, {
      match: (l) => l.includes('"ready":true'),
      timeoutMs: 20_000,
      what: "the apiserver",
    })).rest;
  } catch (e) {
    await stopProc(proc);
    throw new Error(`${(e as Error).message}\n${await tail(proc.log)}`);
  }
  const writer = proc.child.stdin.getWriter();
  const enc = new TextEncoder();
  let nextId = 1;
  let buf = "";
  // Calls are serialized: one request, then its reply line.
  let queue: Promise<unknown> = Promise.resolve();
  const call = (op: string, args: Record<string, unknown>): Promise<unknown> => {
    const p = queue.then(async () => {
      const id = nextId++;
      await writer.write(enc.encode(JSON.stringify({ id, op, ...args }) + "\n"));
      while (true) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const reply = JSON.parse(buf.slice(0, nl)) as Reply;
          buf = buf.slice(nl + 1);
          if (reply.id !== id) continue;
          if (!reply.ok) throw new Error(`Cannot ${op} on the apiserver: ${reply.error}`);
          return reply.result;
        }
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`Cannot ${op} on the apiserver: it exited`);
        buf += chunk.value;
      }
    });
    queue = p.catch(() => {});
    return p;
  };
  return {
    kind: "kubernetes",
    agentFlags: () => ["--datastore=kubernetes", `--kubeconfig=${kubeconfig}`],
    addNode: async (node, podCidr) => {
      await call("putNode", { name: node.name, podCidr, ip: node.ip });
    },
    putObject: (resource, object) => call("put", { resource, object }),
    listObjects: async (resource) =>
      (await call("list", { resource })) as Record<string, unknown>[],
    removeNode: async (name) => {
      if ((await call("deleteNode", { name })) !== true) {
        throw new Error(`Cannot remove node ${name} from the apiserver: no such Node`);
      }
    },
    stopServer: async () => {
      await call("setDown", { down: true });
    },
    startServer: async () => {
      await call("setDown", { down: false });
    },
    procs: () => [proc],
    close: async () => {
      // EOF on stdin: it closes the server and removes its files, then exits.
      await writer.close().catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        proc.done.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 3000))),
      ]);
      clearTimeout(timer);
      reader.cancel().catch(() => {});
      if (!exited) await stopProc(proc, { sig: "SIGTERM", graceMs: 2000 });
    },
  };
}
