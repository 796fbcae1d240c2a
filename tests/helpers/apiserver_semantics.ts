/**
 * The kube-apiserver semantics the test server (tests/helpers/apiserver.ts)
 * needs, as pure functions: object and resource types, Status errors, label
 * and field selectors, JSON merge patch and RFC 6902 JSON patch.
 * @module
 */

/** A resource the server serves, as the apiserver's discovery describes it. */
export interface ResourceDef {
  /** "" for the core group. */
  group: string;
  version: string;
  /** Plural lower-case name used in paths: "nodes", "ippools". */
  resource: string;
  kind: string;
  namespaced: boolean;
  /** Has a /status subresource: main writes keep status, status writes keep the rest. */
  status?: boolean;
  /**
   * PUT without metadata.resourceVersion is allowed (true for core types,
   * false for custom resources, as in the real apiserver).
   */
  unconditionalUpdate?: boolean;
}

/** Object metadata, as much as the server interprets. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** A failure the HTTP layer turns into a metav1.Status body with this code. */
export class ApiStatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details?: Record<string, unknown>;
  constructor(code: number, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "ApiStatusError";
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

/** "v1" for the core group, "group/version" otherwise. */
export function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

/** A filter on objects: namespace plus parsed label and field selectors. */
export interface ObjectFilter {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

type Requirement = (obj: KubeObject) => boolean;

function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

/** Parses a label selector (=, ==, !=, in, notin, exists, !exists) into a predicate. */
export function parseLabelSelector(sel: string): Requirement {
  const reqs = splitTopLevel(sel).map((term): Requirement => {
    const labels = (o: KubeObject) => o.metadata.labels ?? {};
    let m = term.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(",").map((v) => v.trim());
      return op === "in"
        ? (o) => key in labels(o) && values.includes(labels(o)[key]!)
        : (o) => !(key in labels(o)) || !values.includes(labels(o)[key]!);
    }
    m = term.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === "!=" ? (o) => labels(o)[key] !== value : (o) => labels(o)[key] === value;
    }
    m = term.match(/^(!?)([\w./-]+)$/);
    if (m) {
      const [, not, key] = m as unknown as [string, string, string];
      return not ? (o) => !(key in labels(o)) : (o) => key in labels(o);
    }
    throw new ApiStatusError(400, "BadRequest", `unable to parse requirement: ${term}`);
  });
  return (o) => reqs.every((r) => r(o));
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? "" : String(cur);
}

/** Parses a field selector (dotted paths with =, ==, !=) into a predicate. */
export function parseFieldSelector(sel: string): Requirement {
  const reqs = splitTopLevel(sel).map((term): Requirement => {
    const m = term.match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new ApiStatusError(400, "BadRequest", `invalid field selector: ${term}`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    return op === "!="
      ? (o) => fieldValue(o, path) !== value
      : (o) => fieldValue(o, path) === value;
  });
  return (o) => reqs.every((r) => r(o));
}

/** Compiles a filter once per request. */
export function compileFilter(f: ObjectFilter): (obj: KubeObject) => boolean {
  const label = f.labelSelector ? parseLabelSelector(f.labelSelector) : () => true;
  const field = f.fieldSelector ? parseFieldSelector(f.fieldSelector) : () => true;
  return (o) =>
    (f.namespace === undefined || (o.metadata.namespace ?? "") === f.namespace) && label(o) &&
    field(o);
}

/** RFC 7386 JSON merge patch (strategic merge is served the same way). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === "") return [];
  return path.slice(1).split("/").map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function invalid(msg: string): ApiStatusError {
  return new ApiStatusError(422, "Invalid", msg);
}

function parentOf(doc: unknown, parts: string[]): [Record<string, unknown> | unknown[], string] {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    if (cur === null || typeof cur !== "object") throw invalid(`path not found: ${p}`);
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === null || typeof cur !== "object") throw invalid("path not found");
  return [cur as Record<string, unknown>, parts[parts.length - 1] ?? ""];
}

function getAt(doc: unknown, parts: string[]): unknown {
  let cur = doc;
  for (const p of parts) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** RFC 6902 JSON patch: add, remove, replace, move, copy, test. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiStatusError(400, "BadRequest", "json patch must be a list");
  const out = structuredClone(doc);
  const put = (parts: string[], value: unknown, replace: boolean) => {
    const [parent, key] = parentOf(out, parts);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw invalid(`bad index ${key}`);
      parent.splice(i, replace ? 1 : 0, value);
    } else {
      if (replace && !(key in parent)) throw invalid(`replace of missing path ${key}`);
      parent[key] = value;
    }
  };
  const remove = (parts: string[]): unknown => {
    const [parent, key] = parentOf(out, parts);
    if (Array.isArray(parent)) return parent.splice(Number(key), 1)[0];
    if (!(key in parent)) throw invalid(`remove of missing path ${key}`);
    const v = parent[key];
    delete parent[key];
    return v;
  };
  for (const op of ops as JsonPatchOp[]) {
    const parts = pointer(op.path);
    switch (op.op) {
      case "add":
        put(parts, structuredClone(op.value), false);
        break;
      case "replace":
        put(parts, structuredClone(op.value), true);
        break;
      case "remove":
        remove(parts);
        break;
      case "move":
        put(parts, remove(pointer(op.from ?? "")), false);
        break;
      case "copy":
        put(parts, structuredClone(getAt(out, pointer(op.from ?? ""))), false);
        break;
      case "test":
        if (JSON.stringify(getAt(out, parts)) !== JSON.stringify(op.value)) {
          throw invalid(`testing value ${op.path} failed`);
        }
        break;
      default:
        throw new ApiStatusError(400, "BadRequest", `unknown json patch op ${op.op}`);
    }
  }
  return out;
}
