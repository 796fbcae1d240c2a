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

/** Where a kept demo cluster is recorded. */
export const STATE_DIR = "/run/hostgate-demo";
export const STATE_FILE = `${STATE_DIR}/state.json`;

/** Records a kept cluster (temp file + rename). */
export async function saveState(state: ClusterState): Promise<void> {
  await Deno.mkdir(STATE_DIR, { recursive: true });
  const tmp = `${STATE_FILE}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(state, null, 2) + "\n");
  await Deno.rename(tmp, STATE_FILE);
}

/** The recorded state, or undefined when there is none. */
export async function loadState(): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(STATE_FILE)) as ClusterState;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read ${STATE_FILE}: ${(e as Error).message}`);
  }
}

/**
 * Removes a kept cluster: its recorded processes, any process left in a
 * namespace with `prefix`, those namespaces, the scratch dir and the state
 * file. Returns what it removed, for the user.
 */
export async function cleanKept(prefix: string): Promise<string[]> {
  const done: string[] = [];
  const state = await loadState();
  if (state) {
    await Promise.all(state.pids.map(async (p) => {
      const needle = p.name.startsWith("agent") ? "hostgate-agent" : p.name;
      await stopPid(p.pid, needle);
    }));
    done.push(`${state.pids.length} process(es)`);
  }
  const names = await namespacesWith(state?.prefix ?? prefix);
  await sweepNamespaces(names);
  await new NetnsSet(state?.prefix ?? prefix).cleanup();
  if (names.length > 0) done.push(`${names.length} namespace(s)`);
  if (state) {
    await Deno.remove(state.dir, { recursive: true }).catch(() => {});
    done.push(state.dir);
    await Deno.remove(STATE_FILE).catch(() => {});
    await Deno.remove(STATE_DIR).catch(() => {});
  }
  return done;
}
