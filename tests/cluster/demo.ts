/**
 * `deno task demo`: a simulated three-node cluster with two pods per node on
 * the file datastore, built in network namespaces (nothing changes in the
 * machine's own network namespace). Prints the connectivity matrix (every
 * pod and node pinging every other, and the outside host behind the router)
 * and each node's hostgate routes, then removes everything. Exits 1 when any
 * cell fails. `--keep` leaves the cluster running for exploring,
 * `--clean` (`deno task demo:clean`) removes a kept one. Ctrl-C safe.
 * @module
 */
import { parseArgs } from "node:util";
import { isRoot } from "../helpers/netns.ts";
import { Cluster, type Pod } from "./cluster.ts";
import { cleanKept, loadState, saveState, STATE_FILE } from "./demo_state.ts";
import { pingOk, pool, routeText } from "./probes.ts";

/** Namespace prefix of the demo (the e2e test of the demo passes its own). */
const PREFIX = "hgdemo";
const NODES = 3;
const PODS_PER_NODE = 2;

/** A row or column of the matrix: a node, a pod, or the outside host. */
export interface Endpoint {
  label: string;
  /** Namespace to ping from; undefined: not a source. */
  netns?: string;
  ip: string;
  kind: "node" | "pod" | "outside";
}

/** Writes to stdout (the demo's output); progress goes to stderr. */
function out(line = ""): void {
  console.log(line);
}

/** The matrix text and the number of failed cells. */
export function renderMatrix(m: {
  rows: Endpoint[];
  cols: Endpoint[];
  /** true ✓, false ✗, undefined · (not measured: the diagonal). */
  cell: (r: Endpoint, c: Endpoint) => boolean | undefined;
}): { text: string; failed: number; total: number } {
  const { rows, cols, cell } = m;
  const w = Math.max(...cols.map((c) => c.label.length), 4) + 1;
  const lw = Math.max(...rows.map((r) => r.label.length)) + 2;
  const lines = [" ".repeat(lw) + cols.map((c) => c.label.padStart(w)).join("")];
  let failed = 0;
  let total = 0;
  for (const r of rows) {
    const cells = cols.map((c) => {
      const v = cell(r, c);
      if (v === undefined) return "·".padStart(w);
      total++;
      if (!v) failed++;
      return (v ? "✓" : "✗").padStart(w);
    });
    lines.push(r.label.padEnd(lw) + cells.join(""));
  }
  return { text: lines.join("\n"), failed, total };
}

async function build(c: Cluster): Promise<Pod[]> {
  const names = c.topo.nodes.map((n) => n.name);
  c.say(`starting hostgate-agent in ${names.join(", ")} (file datastore: ${c.dir}/store)`);
  await Promise.all(names.map((n) => c.join(n)));
  await c.waitMesh(names);
  c.say(`creating ${PODS_PER_NODE} pods per node through each node's conflist`);
  const pods = await Promise.all(
    names.flatMap((n) =>
      Array.from({ length: PODS_PER_NODE }, (_, i) => c.addPod(n, String.fromCharCode(97 + i)))
    ),
  );
  return pods.sort((a, b) => a.label < b.label ? -1 : 1);
}

async function show(c: Cluster, pods: Pod[]): Promise<number> {
  const nodes: Endpoint[] = c.topo.nodes.map((n) => ({
    label: n.name,
    netns: n.netns,
    ip: n.ip,
    kind: "node",
  }));
  const podEps: Endpoint[] = pods.map((p) => ({
    label: p.label,
    netns: p.netns,
    ip: p.ip,
    kind: "pod",
  }));
  const outside: Endpoint = { label: "outside", ip: c.topo.outsideIp, kind: "outside" };
  const rows = [...nodes, ...podEps];
  const cols = [...rows, outside];

  out("\nEndpoints");
  for (const n of c.topo.nodes) {
    out(`  ${n.name.padEnd(6)} node ${n.ip.padEnd(15)} pod subnet ${await c.subnetOf(n.name)}`);
  }
  for (const p of pods) out(`  ${p.label.padEnd(6)} pod  ${p.ip}`);
  out(`  outside     ${c.topo.outsideIp} (behind the router, which has no route to pods)`);

  const pairs = rows.flatMap((r) => cols.filter((col) => col !== r).map((col) => [r, col]));
  const results = new Map<string, boolean>();
  const key = (r: Endpoint, col: Endpoint) => `${r.label}>${col.label}`;
  const t0 = Date.now();
  const oks = await pool(
    12,
    pairs.map(([r, col]) => () => pingOk(r!.netns!, col!.ip, { tries: 3 })),
  );
  pairs.forEach(([r, col], i) => results.set(key(r!, col!), oks[i]!));
  const m = renderMatrix({
    rows,
    cols,
    cell: (r, col) => r === col ? undefined : results.get(key(r, col)),
  });
  out(`\nConnectivity (ping from row to column; ${Date.now() - t0} ms)`);
  out(m.text);

  out("\nhostgate routes (ip -n <node> route show proto 151)");
  for (const n of c.topo.nodes) {
    out(`  ${n.name}:`);
    for (const line of (await routeText(n.netns)).split("\n")) out(`    ${line.trimEnd()}`);
  }
  out(`\n${m.total - m.failed}/${m.total} reachable${m.failed ? `, ${m.failed} FAILED` : ""}`);
  return m.failed;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      keep: { type: "boolean", default: false },
      clean: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
      // Pod wiring the agents write into the conflist: routed (default) or bridge.
      "pod-mode": { type: "string", default: "routed" },
      // For tests of the demo itself: their own namespaces and state file.
      prefix: { type: "string", default: PREFIX },
      "state-file": { type: "string", default: STATE_FILE },
    },
  });
  if (values.help) {
    out("Usage: deno task demo [--keep] [--pod-mode=routed|bridge]   |   deno task demo:clean");
    out("  --keep   leave the cluster running (state in " + STATE_FILE + ")");
    out("  --pod-mode  routed (a veth per pod, host routes; default) or bridge");
    out("  --clean  remove a kept cluster (what demo:clean runs)");
    return 0;
  }
  const where = { prefix: values.prefix, file: values["state-file"] };
  if (!/^[a-z][a-z0-9]{1,11}$/.test(where.prefix)) {
    console.error(`Cannot use prefix ${JSON.stringify(where.prefix)}: want 2-12 of [a-z0-9]`);
    return 2;
  }
  const podMode = values["pod-mode"];
  if (podMode !== "routed" && podMode !== "bridge") {
    console.error(`Cannot use --pod-mode ${JSON.stringify(podMode)}: want routed or bridge`);
    return 2;
  }
  if (!isRoot()) {
    console.error("Cannot run the demo: it needs root (it builds network namespaces)");
    return 2;
  }
  if (values.clean) {
    const done = await cleanKept(where);
    out(done.length ? `removed: ${done.join(", ")}` : "nothing to remove");
    return 0;
  }
  if (await loadState(where.file)) {
    console.error(`a kept demo cluster exists (${where.file}); removing it first`);
    await cleanKept(where);
  }
  const t0 = Date.now();
  const c = await Cluster.start({
    prefix: where.prefix,
    nodes: NODES,
    datastore: "file",
    detach: values.keep,
    agentFlags: [`--pod-mode=${podMode}`],
  });
  let failed = 1;
  try {
    const pods = await build(c);
    c.say(`cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    failed = await show(c, pods);
    if (values.keep) {
      await saveState(where.file, c.detach());
      out(`\nThe cluster stays up (state: ${where.file}). Try:`);
      out(`  ip netns exec ${pods[0]!.netns} ping -c1 ${pods.at(-1)!.ip}`);
      out(`  ip -n ${c.topo.nodes[0]!.netns} route`);
      out(`  cat ${c.dirs("n1").conf}/10-hostgate.conflist ${c.dirs("n1").agentLog}`);
      out(`Remove it with: deno task demo:clean`);
      return failed > 0 ? 1 : 0;
    }
  } catch (e) {
    console.error(`demo failed: ${(e as Error).message}`);
    failed = 1;
  }
  const errors = await c.teardown();
  for (const e of errors) console.error(`teardown: ${e}`);
  c.say(`torn down; ${((Date.now() - t0) / 1000).toFixed(1)} s in all`);
  return failed > 0 || errors.length > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
