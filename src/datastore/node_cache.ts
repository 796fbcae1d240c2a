/**
 * The nodes a datastore backend has read, as the agent gets them: frozen
 * entries by name and a sorted snapshot that is rebuilt only after a change.
 * An entry equal to the one held (same stored text) is no change, so a
 * rescan or a repeated watch event does not wake the agent. Shared by the
 * file and etcd backends, which differ only in how entries arrive.
 * @module
 */
import type { NodeInfo } from "./types.ts";
import { freezeNode, sameNode, sortNodes } from "./node_entry.ts";

/** Frozen node entries by name with a cached sorted snapshot. */
export class NodeCache {
  readonly #byName = new Map<string, NodeInfo>();
  #snapshot: NodeInfo[] | undefined;

  /** The entry of `name`, if held. */
  get(name: string): NodeInfo | undefined {
    return this.#byName.get(name);
  }

  /** The held entries sorted by name (a copy: callers may keep it). */
  list(): NodeInfo[] {
    this.#snapshot ??= sortNodes(this.#byName.values());
    return [...this.#snapshot];
  }

  /**
   * Applies `[name, entry]` changes (`undefined` removes the name); true
   * when anything differed.
   */
  apply(changes: Iterable<readonly [string, NodeInfo | undefined]>): boolean {
    let changed = false;
    for (const [name, node] of changes) {
      if (sameNode(this.#byName.get(name), node)) continue;
      changed = true;
      if (node) this.#byName.set(name, freezeNode(node));
      else this.#byName.delete(name);
    }
    if (changed) this.#snapshot = undefined;
    return changed;
  }

  /** Replaces everything with `nodes` (a full read); true when anything differed. */
  replace(nodes: Iterable<NodeInfo>): boolean {
    const next = new Map<string, NodeInfo>();
    for (const n of nodes) next.set(n.name, n);
    const gone = [...this.#byName.keys()].filter((name) => !next.has(name));
    return this.apply([...gone.map((name) => [name, undefined] as const), ...next]);
  }
}

/**
 * Calls a backend's change listener: a listener that throws is logged, never
 * allowed to break the backend's watch.
 */
export function notifyListener(
  onChange: () => void,
  log: (msg: string) => void,
  who: string,
): void {
  try {
    onChange();
  } catch (e) {
    log(`hostgate datastore ${who}: onChange threw: ${e instanceof Error ? e.message : e}`);
  }
}
