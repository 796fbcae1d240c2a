/**
 * Where an agent's memory goes: takes a V8 heap snapshot of a running agent
 * through its inspector (the agent started with `--inspect`) and sums the
 * self sizes by kind (strings, objects, arrays, code, closures, ...) and the
 * biggest object constructors, beside the process's VmRSS. Run inside the
 * agent's netns (the inspector listens on its loopback):
 * `deno run -A bench/agent_heap.ts --inspect=127.0.0.1:9229 --pid=N`.
 * Prints one JSON `HeapSummary` line.
 * @module
 */
import { parseArgs } from "node:util";

/** The summary printed. */
export interface HeapSummary {
  /** VmRSS before the inspector collected garbage and took the snapshot. */
  rssKiB: number;
  /** Deno.memoryUsage() in the agent before and after a full GC (bytes). */
  before: Deno.MemoryUsage;
  after: Deno.MemoryUsage;
  /** VmRSS after the full GC (before the snapshot). */
  rssAfterGcKiB: number;
  /** Sum of every node's self size in the snapshot. */
  heapBytes: number;
  /** Self size by V8 node type. */
  byType: Record<string, number>;
  /** The 12 biggest constructors of "object"-type nodes by total self size. */
  topObjects: [string, number][];
  /** Number of string nodes. */
  strings: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const rssOf = async (pid: number) =>
  Number(/^VmRSS:\s+(\d+)/m.exec(await Deno.readTextFile(`/proc/${pid}/status`))?.[1]);

interface Taken {
  snap: Snapshot;
  rssKiB: number;
  rssAfterGcKiB: number;
  before: Deno.MemoryUsage;
  after: Deno.MemoryUsage;
}

async function takeSnapshot(inspect: string, pid: number): Promise<Taken> {
  const list = await (await fetch(`http://${inspect}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const chunks: string[] = [];
  const replies = new Map<number, (v: unknown) => void>();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data as string);
    if (msg.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(msg.params.chunk);
    if (msg.id !== undefined) replies.get(msg.id)?.(msg.result);
  };
  let id = 0;
  const call = (method: string, params: unknown = {}) =>
    new Promise<unknown>((resolve) => {
      replies.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  const usage = async () => {
    const r = await call("Runtime.evaluate", {
      expression: "JSON.stringify(Deno.memoryUsage())",
      returnByValue: true,
    }) as { result: { value: string } };
    return JSON.parse(r.result.value) as Deno.MemoryUsage;
  };
  const rssKiB = await rssOf(pid);
  const before = await usage();
  await call("HeapProfiler.enable");
  await call("HeapProfiler.collectGarbage");
  const after = await usage();
  const rssAfterGcKiB = await rssOf(pid);
  await call("HeapProfiler.takeHeapSnapshot");
  ws.close();
  return { snap: JSON.parse(chunks.join("")), rssKiB, rssAfterGcKiB, before, after };
}

/** Sums a snapshot by node type and by constructor. */
export function summarize(t: Taken): HeapSummary {
  const s = t.snap;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const fType = fields.indexOf("type");
  const fName = fields.indexOf("name");
  const fSize = fields.indexOf("self_size");
  const byType: Record<string, number> = {};
  const byCtor = new Map<string, number>();
  let heap = 0;
  let strings = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + fType]!]!;
    const size = s.nodes[i + fSize]!;
    heap += size;
    byType[type] = (byType[type] ?? 0) + size;
    if (type === "string" || type === "concatenated string" || type === "sliced string") strings++;
    if (type === "object") {
      const name = s.strings[s.nodes[i + fName]!]!;
      byCtor.set(name, (byCtor.get(name) ?? 0) + size);
    }
  }
  const topObjects = [...byCtor].sort((a, b) => b[1] - a[1]).slice(0, 12);
  return {
    rssKiB: t.rssKiB,
    rssAfterGcKiB: t.rssAfterGcKiB,
    before: t.before,
    after: t.after,
    heapBytes: heap,
    byType,
    topObjects,
    strings,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { inspect: { type: "string" }, pid: { type: "string" }, save: { type: "string" } },
  });
  const taken = await takeSnapshot(values.inspect ?? "127.0.0.1:9229", Number(values.pid));
  // `--save=FILE`: also keep the raw snapshot (load it in Chrome DevTools for retainers).
  if (values.save) await Deno.writeTextFile(values.save, JSON.stringify(taken.snap));
  console.log(JSON.stringify(summarize(taken)));
}
