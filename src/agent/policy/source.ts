/**
 * Where policy inputs come from: a datastore that watches NetworkPolicies,
 * Pods and Namespaces offers a `PolicySource`, and `ProjectedStore` is the
 * shared bookkeeping (objects projected at ingest, keyed by namespace/name,
 * with the reasons a policy or rule was refused).
 * @module
 */
import { projectNamespace, projectPod, projectPolicy } from "./project.ts";
import type { NetworkPolicy, PolicyInput, PolicyNamespace, PolicyPod } from "./types.ts";

/** A live view of the policy inputs. */
export interface PolicySource {
  /** Starts watching; `onChange` after every change (callers debounce). */
  start(onChange: () => void): Promise<void>;
  /**
   * The current inputs; undefined until every kind has been read once (an
   * unknown state never clears the table).
   */
  input(): PolicyInput | undefined;
  /** Reasons objects or rules were refused, by "Kind ns/name". */
  rejected(): Map<string, string[]>;
  close(): Promise<void>;
}

/** The kinds a source reads. */
export type PolicyKind = "NetworkPolicy" | "Pod" | "Namespace";

const keyOf = (o: unknown): string | undefined => {
  const m = (o as { metadata?: { name?: unknown; namespace?: unknown } })?.metadata;
  if (typeof m?.name !== "string") return undefined;
  return typeof m.namespace === "string" ? `${m.namespace}/${m.name}` : m.name;
};

/** Projected objects of the three kinds, updated per event or replaced per snapshot. */
export class ProjectedStore {
  readonly policies = new Map<string, NetworkPolicy>();
  readonly pods = new Map<string, PolicyPod>();
  readonly namespaces = new Map<string, PolicyNamespace>();
  readonly rejected = new Map<string, string[]>();

  /** Applies one add/update ("set") or delete of a raw object. */
  apply(kind: PolicyKind, type: "set" | "delete", obj: unknown): void {
    const key = keyOf(obj);
    if (!key) return;
    const where = `${kind} ${key}`;
    if (type === "delete") {
      this.#map(kind).delete(key);
      this.rejected.delete(where);
      return;
    }
    const p = kind === "NetworkPolicy"
      ? projectPolicy(obj)
      : kind === "Pod"
      ? projectPod(obj)
      : projectNamespace(obj);
    if (p.errors.length) this.rejected.set(where, p.errors);
    else this.rejected.delete(where);
    if (p.value) this.#map(kind).set(key, p.value as never);
    else this.#map(kind).delete(key);
  }

  /** Replaces everything with a snapshot of raw objects. */
  replace(objects: { kind: PolicyKind; obj: unknown }[]): void {
    this.policies.clear();
    this.pods.clear();
    this.namespaces.clear();
    this.rejected.clear();
    for (const o of objects) this.apply(o.kind, "set", o.obj);
  }

  /** The inputs as they stand. */
  input(): PolicyInput {
    return {
      policies: [...this.policies.values()],
      pods: [...this.pods.values()],
      namespaces: [...this.namespaces.values()],
    };
  }

  #map(kind: PolicyKind): Map<string, unknown> {
    return kind === "NetworkPolicy" ? this.policies : kind === "Pod" ? this.pods : this.namespaces;
  }
}
