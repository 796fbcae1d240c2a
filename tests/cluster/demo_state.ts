/**
 * The state of a cluster kept by `deno task demo --keep`, and its removal
 * (`deno task demo:clean`). The state file names the scratch dir and the
 * processes; every namespace with the demo's prefix and every process inside
 * one is the demo's own, so cleaning also works when the file is gone.
 * @module
 */
import { NetnsSet } from "../helpers/netns.ts";
import { type ClusterState, namespacesWith } from "./cluster_types.ts";
import { stopPid, sweepNamespaces } from "./procs.ts";

/** Where a kept demo cluster is recorded by default. */
export const STATE_FILE = "/run/hostgate-demo/state.json";

function dirOf(file: string): string {
  return file.slice(0, file.lastIndexOf("/")) || "/";
}

/** Records a kept cluster in `file` (temp file + rename). */
export async function saveState(file: string, state: ClusterState): Promise<void> {
  await Deno.mkdir(dirOf(file), { recursive: true });
  const tmp = `${file}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(state, null, 2) + "\n");
  await Deno.rename(tmp, file);
}

/** The state recorded in `file`, or undefined when there is none. */
export async function loadState(file: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(file)) as ClusterState;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Removes a kept cluster: its recorded processes, any process left in a
 * namespace with `prefix`, those namespaces, the scratch dir and the state
 * file (and its dir when empty). Returns what it removed, for the user.
 */
export async function cleanKept(opts: { prefix: string; file: string }): Promise<string[]> {
  const done: string[] = [];
  const state = await loadState(opts.file);
  const prefix = state?.prefix ?? opts.prefix;
  if (state) {
    await Promise.all(state.pids.map(async (p) => {
      const needle = p.name.startsWith("agent") ? "hostgate-agent" : p.name;
      await stopPid(p.pid, needle);
    }));
    done.push(`${state.pids.length} process(es)`);
  }
  const names = await namespacesWith(prefix);
  await sweepNamespaces(names);
  await new NetnsSet(prefix).cleanup();
  if (names.length > 0) done.push(`${names.length} namespace(s)`);
  if (state) {
    await Deno.remove(state.dir, { recursive: true }).catch(() => {});
    done.push(state.dir);
  }
  await Deno.remove(opts.file).catch(() => {});
  await Deno.remove(dirOf(opts.file)).catch(() => {}); // only when empty
  return done;
}
