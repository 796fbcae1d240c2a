/**
 * `just kind-smoke`: hostgate end to end in a real kind cluster. Builds the
 * image from the Containerfile, creates a 3-node cluster without a default CNI
 * (deploy/kind/cluster.yaml), loads the image, applies deploy/hostgate.yaml,
 * waits for every node Ready, then checks: hostgate's routes on every node, pod
 * to pod across nodes, a ClusterIP Service, DNS, egress (masqueraded), a
 * hostPort, and that deleting a node removes its routes from the others. The
 * cluster is deleted at the end (`--keep` keeps it for debugging).
 *
 * Where Docker, its daemon, kind or kubectl is missing it says so and exits 2
 * without building or testing anything; a failed check exits 1.
 *
 *   deno run --allow-read --allow-env --allow-run deploy/kind/smoke.ts [--name N] [--keep]
 * @module
 */
import { parseArgs } from "node:util";
import {
  AGNHOST_IMAGE,
  HOST_PORT,
  manifestImage,
  missingTools,
  missingToolsMessage,
  parseNodes,
  parseRoutes,
  REQUIRED_TOOLS,
  routeProblems,
  SERVER_PORT,
  type SmokeNode,
  workloads,
} from "./pure.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ROUTE_PROTOCOL = "151";
const log = (line: string) => console.error(`kind-smoke: ${line}`);

async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

interface RunOptions {
  stdin?: string;
  timeoutMs?: number;
  /** Return the failure instead of throwing. */
  allowFail?: boolean;
}

interface RunResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Spawns argv (never a shell string) from the repository root. */
async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: ROOT,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 180_000),
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const res = {
    ok: out.success,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (!res.ok && !opts.allowFail) {
    throw new Error(`Cannot run ${argv.join(" ")}: exit ${out.code}: ${res.stderr.trim()}`);
  }
  return res;
}

/** Retries `fn` until it returns without throwing, or the deadline passes. */
async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) {
        throw new Error(`Cannot ${what} within ${timeoutMs / 1000}s: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

class Cluster {
  readonly context: string;
  constructor(readonly name: string) {
    this.context = `kind-${name}`;
  }
  kubectl(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(["kubectl", "--context", this.context, ...args], opts);
  }
  /** Output of `wget` run in the client pod. */
  async fetch(url: string): Promise<string> {
    const res = await this.kubectl(["exec", "hg-client", "--", "wget", "-qO-", "-T", "5", url]);
    return res.stdout.trim();
  }
  async nodes(): Promise<SmokeNode[]> {
    return parseNodes((await this.kubectl(["get", "nodes", "-o", "json"])).stdout);
  }
  async routes(node: string) {
    const res = await run(["docker", "exec", node, "ip", "route", "show", "proto", ROUTE_PROTOCOL]);
    return parseRoutes(res.stdout);
  }
}

async function expectBody(what: string, fetch: () => Promise<string>, want: string) {
  await eventually(what, async () => {
    const got = await fetch();
    if (got !== want) throw new Error(`got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  });
  log(`ok   ${what}`);
}

async function checks(c: Cluster, image: string): Promise<void> {
  log(`building ${image} from the Containerfile`);
  await run(["docker", "build", "-f", "Containerfile", "-t", image, "."], { timeoutMs: 1_200_000 });
  log(`creating kind cluster ${c.name}`);
  await run(
    ["kind", "create", "cluster", "--name", c.name, "--config", "deploy/kind/cluster.yaml"],
    { timeoutMs: 600_000 },
  );
  await run(["kind", "load", "docker-image", image, "--name", c.name], { timeoutMs: 600_000 });
  await c.kubectl(["apply", "-f", "deploy/hostgate.yaml"]);
  await c.kubectl(["-n", "hostgate-system", "rollout", "status", "ds/hostgate", "--timeout=300s"], {
    timeoutMs: 320_000,
  });
  await c.kubectl(["wait", "--for=condition=Ready", "nodes", "--all", "--timeout=300s"], {
    timeoutMs: 320_000,
  });
  log("ok   hostgate agents ready, every node Ready");

  const nodes = await c.nodes();
  const workers = nodes.filter((n) => !n.name.endsWith("-control-plane"));
  if (nodes.length !== 3 || workers.length !== 2) {
    throw new Error(`Cannot check: want 1 control plane and 2 workers, have ${nodes.length} nodes`);
  }
  for (const node of nodes) {
    await eventually(`see every peer route on ${node.name}`, async () => {
      const problems = routeProblems(node.name, nodes, await c.routes(node.name));
      if (problems.length > 0) throw new Error(problems.join("; "));
    });
  }
  log(`ok   every node routes every peer's pod CIDR (ip route show proto ${ROUTE_PROTOCOL})`);

  const [serverNode, clientNode] = [workers[0]!, workers[1]!];
  await c.kubectl(["apply", "-f", "-"], {
    stdin: workloads({ serverNode: serverNode.name, clientNode: clientNode.name }),
  });
  await c.kubectl([
    "wait",
    "--for=condition=Ready",
    "pod/hg-server",
    "pod/hg-client",
    "--timeout=300s",
  ], {
    timeoutMs: 320_000,
  });
  const podIp = (await c.kubectl(["get", "pod", "hg-server", "-o", "jsonpath={.status.podIP}"]))
    .stdout.trim();
  const clusterIp =
    (await c.kubectl(["get", "svc", "hg-server", "-o", "jsonpath={.spec.clusterIP}"]))
      .stdout.trim();

  await expectBody(
    `pod to pod across nodes (${clientNode.name} -> ${serverNode.name} ${podIp})`,
    () => c.fetch(`http://${podIp}:${SERVER_PORT}/hostname`),
    "hg-server",
  );
  await expectBody(
    `ClusterIP Service (${clusterIp}:80)`,
    () => c.fetch(`http://${clusterIp}/hostname`),
    "hg-server",
  );
  await eventually(
    "resolve kubernetes.default through cluster DNS",
    () =>
      c.kubectl(["exec", "hg-client", "--", "nslookup", "kubernetes.default.svc.cluster.local"]),
  );
  await expectBody(
    "DNS: the Service by name",
    () => c.fetch("http://hg-server.default.svc.cluster.local/hostname"),
    "hg-server",
  );
  await expectBody(
    `hostPort (${serverNode.internalIps[0]}:${HOST_PORT} from a pod on another node)`,
    () => c.fetch(`http://${serverNode.internalIps[0]}:${HOST_PORT}/hostname`),
    "hg-server",
  );

  // Egress: a server outside the cluster (a plain container on kind's Docker network) must see
  // the client's node IP, not its pod IP: MASQUERADE for traffic leaving the cluster CIDR.
  const outside = `${c.name}-egress`;
  await run([
    "docker",
    "run",
    "-d",
    "--rm",
    "--name",
    outside,
    "--network",
    "kind",
    AGNHOST_IMAGE,
    "netexec",
    `--http-port=${SERVER_PORT}`,
  ], { timeoutMs: 300_000 });
  try {
    const ip = (await run([
      "docker",
      "inspect",
      "-f",
      "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
      outside,
    ])).stdout.trim();
    await eventually(`egress to ${ip} masqueraded to ${clientNode.name}'s IP`, async () => {
      const seen = (await c.fetch(`http://${ip}:${SERVER_PORT}/clientip`)).replace(/:\d+$/, "");
      if (!clientNode.internalIps.includes(seen)) {
        throw new Error(`the server saw ${seen}, want one of ${clientNode.internalIps.join(", ")}`);
      }
    });
    log("ok   egress leaves masqueraded as the node's IP");
  } finally {
    await run(["docker", "rm", "-f", outside], { allowFail: true });
  }

  // A deleted node's routes must go from every other node. Stop its kubelet first so it does
  // not register the Node again.
  const gone = clientNode;
  await run(["docker", "exec", gone.name, "systemctl", "stop", "kubelet"]);
  await c.kubectl(["delete", "node", gone.name, "--wait=true"]);
  for (const node of nodes.filter((n) => n.name !== gone.name)) {
    await eventually(`remove ${gone.name}'s routes from ${node.name}`, async () => {
      const left = (await c.routes(node.name)).filter((r) => gone.podCidrs.includes(r.dst));
      if (left.length > 0) throw new Error(`still routed: ${left.map((r) => r.dst).join(", ")}`);
    });
  }
  log(`ok   deleting ${gone.name} removed its routes from every other node`);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { name: { type: "string", default: "hostgate-smoke" }, keep: { type: "boolean" } },
  });
  const missing = await missingTools(REQUIRED_TOOLS, {
    pathEnv: Deno.env.get("PATH") ?? "",
    isExecutable,
  });
  if (missing.length > 0) {
    console.error(missingToolsMessage(missing));
    return 2;
  }
  const info = await run(["docker", "info", "--format", "{{.ServerVersion}}"], {
    allowFail: true,
    timeoutMs: 30_000,
  });
  if (!info.ok) {
    log(
      `Cannot run the kind smoke test: the Docker daemon is not reachable (docker info: ${
        info.stderr.trim().split("\n")[0]
      }).`,
    );
    log("NOTHING WAS BUILT OR TESTED.");
    return 2;
  }
  const c = new Cluster(values.name!);
  const existing = (await run(["kind", "get", "clusters"])).stdout.split("\n");
  if (existing.includes(c.name)) {
    log(`Cannot create kind cluster ${c.name}: it exists and is not this run's; delete it with`);
    log(`  kind delete cluster --name ${c.name}`);
    return 2;
  }
  const image = manifestImage(await Deno.readTextFile(`${ROOT}deploy/hostgate.yaml`));
  try {
    await checks(c, image);
    log("PASSED: every check");
    return 0;
  } catch (e) {
    log(`FAILED: ${(e as Error).message}`);
    return 1;
  } finally {
    if (values.keep) log(`kept cluster ${c.name} (kind delete cluster --name ${c.name})`);
    else await run(["kind", "delete", "cluster", "--name", c.name], { allowFail: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
