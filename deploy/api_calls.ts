/**
 * Lists the Kubernetes API calls in source code and the permissions RBAC rules
 * grant, as comparable sets, so tests/deploy_test.ts can hold deploy/rbac.yaml
 * to exactly what the agent calls: no missing permission (the agent would fail
 * in a cluster, which no local test sees) and no spare one (least privilege).
 *
 * Calls are found syntactically: typed client-node methods
 * (`listNode`, `readNamespacedConfigMap`, `patchNodeStatus`, ...), API
 * paths given to a watch or informer (`/api/v1/nodes`: list and watch), and
 * the plugin's fetch-based client (src/ipam/ippool/client.ts), whose every
 * call names its RBAC verb, group and resource literally:
 * `.kube({ verb: "get", group: "hostgate.io", resource: "ippools", ... })`.
 * The client builds the request from exactly those fields, so what is scanned
 * is what is sent. Its calls may target any namespace: the ClusterRole grants them.
 * @module
 */

/** One permission: a verb on a resource (with subresource) at a scope. */
export interface Access {
  /** API group, "" for the core group. */
  group: string;
  /** "nodes", "nodes/status", "configmaps", "serviceaccounts/token", ... */
  resource: string;
  verb: string;
  namespaced: boolean;
}

/** Text key of an access, for sets and readable test failures. */
export function accessKey(a: Access): string {
  return `${a.namespaced ? "namespaced" : "cluster"} ${a.group || "core"}/${a.resource} ${a.verb}`;
}

const VERBS: Record<string, string> = {
  list: "list",
  read: "get",
  create: "create",
  replace: "update",
  patch: "patch",
  delete: "delete",
  deleteCollection: "deletecollection",
};

/** client-node kind names (as in method names) and their resources. */
const KINDS: Record<string, { group: string; resource: string }> = {
  Node: { group: "", resource: "nodes" },
  ConfigMap: { group: "", resource: "configmaps" },
  Pod: { group: "", resource: "pods" },
  Secret: { group: "", resource: "secrets" },
  Service: { group: "", resource: "services" },
  Endpoints: { group: "", resource: "endpoints" },
  Event: { group: "", resource: "events" },
  Namespace: { group: "", resource: "namespaces" },
  ServiceAccount: { group: "", resource: "serviceaccounts" },
  ServiceAccountToken: { group: "", resource: "serviceaccounts/token" },
  Lease: { group: "coordination.k8s.io", resource: "leases" },
  EndpointSlice: { group: "discovery.k8s.io", resource: "endpointslices" },
  CustomResourceDefinition: {
    group: "apiextensions.k8s.io",
    resource: "customresourcedefinitions",
  },
};

/** Raised for a call the scanner cannot map to a permission (e.g. a custom object call). */
export class UnmappedCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnmappedCallError";
  }
}

const METHOD =
  /\.(list|read|create|replace|patch|deleteCollection|delete)(Namespaced|Cluster)?([A-Z][A-Za-z]*?)(Status|ForAllNamespaces)?\s*\(/g;
const PATH = /["'`](\/apis?\/[^"'`\s?]+)["'`]/g;
/** A call of the fetch-based client; its object must start with literal verb, group, resource. */
const KUBE_CALL = /\.kube\(/g;
const KUBE_FIELDS =
  /^\.kube\(\s*\{\s*verb:\s*"(get|list|watch|create|update|patch|delete)",\s*group:\s*"([a-z0-9.-]*)",\s*resource:\s*"([a-z0-9]+(?:\/[a-z]+)?)"/;

/** Drops block comments and whole-line `//` comments (JSDoc examples are not calls). */
export function stripComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("//"))
    .join("\n");
}

/** Accesses made by typed client-node calls and watched API paths in `source`. */
export function scanApiCalls(source: string): Access[] {
  const code = stripComments(source);
  const found: Access[] = [];
  for (const m of code.matchAll(METHOD)) {
    const [, verbWord, scope, kind, suffix] = m;
    if (kind === "CustomObject") {
      throw new UnmappedCallError(
        `Cannot map ${
          m[0]
        } to a permission: custom object calls name their resource in arguments; extend deploy/api_calls.ts`,
      );
    }
    const target = KINDS[kind!];
    if (!target) continue; // not a client-node call (readText, listRoutes, ...)
    found.push({
      group: target.group,
      resource: suffix === "Status" ? `${target.resource}/status` : target.resource,
      verb: VERBS[verbWord!]!,
      namespaced: scope === "Namespaced",
    });
  }
  for (const m of code.matchAll(PATH)) {
    found.push(...pathAccesses(m[1]!));
  }
  for (const m of code.matchAll(KUBE_CALL)) {
    const f = KUBE_FIELDS.exec(code.slice(m.index!, m.index! + 300));
    if (!f) {
      throw new UnmappedCallError(
        `Cannot map ${
          code.slice(m.index!, m.index! + 80).replace(/\s+/g, " ")
        } to a permission: a .kube({ ... }) call must begin with literal verb, group and resource`,
      );
    }
    found.push({ group: f[2]!, resource: f[3]!, verb: f[1]!, namespaced: false });
  }
  return found;
}

/**
 * A collection path watched by an informer ("/api/v1/nodes",
 * "/api/v1/namespaces/${ns}/configmaps", "/apis/g/v/plural"): list and watch.
 */
export function pathAccesses(path: string): Access[] {
  const parts = path.split("/").filter((p) => p !== "");
  let group: string;
  let rest: string[];
  if (parts[0] === "api") {
    group = "";
    rest = parts.slice(2);
  } else {
    group = parts[1] ?? "";
    rest = parts.slice(3);
  }
  const namespaced = rest[0] === "namespaces" && rest.length >= 3;
  const resource = namespaced ? rest[2] : rest[0];
  if (!resource || rest.length > (namespaced ? 3 : 1)) {
    throw new UnmappedCallError(`Cannot map API path ${path} to a collection`);
  }
  return ["list", "watch"].map((verb) => ({ group, resource, verb, namespaced }));
}

/** A PolicyRule as it appears in a Role or ClusterRole. */
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/**
 * The accesses a set of rules grants. Wildcards are refused: "*" cannot be
 * least privilege and would hide what the agent really gets.
 */
export function grantedAccesses(rules: readonly PolicyRule[], namespaced: boolean): Access[] {
  const out: Access[] = [];
  for (const r of rules) {
    const all = [...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? [])];
    if (all.includes("*") || r.nonResourceURLs) {
      throw new Error(`Cannot accept rule ${JSON.stringify(r)}: wildcards or non-resource URLs`);
    }
    for (const group of r.apiGroups ?? []) {
      for (const resource of r.resources ?? []) {
        for (const verb of r.verbs ?? []) out.push({ group, resource, verb, namespaced });
      }
    }
  }
  return out;
}

/** One API request in RBAC terms, as the test API server records it. */
export interface ApiRequest {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/**
 * Whether `rules` allow `req`, with RBAC's semantics for subresources
 * ("nodes/status") and resourceNames (a named rule never allows a request
 * without a name, such as a create or an unfiltered list).
 */
export function rulesAllow(rules: readonly PolicyRule[], req: ApiRequest): boolean {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  return rules.some((r) =>
    (r.apiGroups ?? []).includes(req.group) &&
    (r.resources ?? []).includes(resource) &&
    (r.verbs ?? []).includes(req.verb) &&
    (!r.resourceNames || (req.name !== undefined && r.resourceNames.includes(req.name)))
  );
}
