/**
 * The few single-object calls of the Kubernetes datastore (register's Node
 * read and annotation patch, the allocation ConfigMap's read, create and
 * replace), over the datastore's own transport: client-node's generated API
 * classes and their model serializer (~0.6 MB of code, ~5 MiB of memory) are
 * never loaded. The method names are client-node's on purpose: they say
 * which RBAC verb and resource each call needs, and deploy/api_calls.ts maps
 * them to deploy/rbac.yaml exactly as it maps client-node calls.
 * @module
 */

import type { ApiTransport } from "./transport.ts";
import type { NodeLike } from "./nodes.ts";

/** The ConfigMap fields the allocation reads and writes. */
export interface ConfigMapLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  data?: { [key: string]: string };
}

const enc = encodeURIComponent;
/** Path of a core/v1 object or collection from its segments (names are escaped). */
const core = (...segments: string[]) => ["", "api", "v1", ...segments.map(enc)].join("/");

/** Typed calls on core/v1 Nodes and ConfigMaps. */
export class CoreApi {
  readonly #t: ApiTransport;

  constructor(transport: ApiTransport) {
    this.#t = transport;
  }

  /** GET a Node (RBAC: nodes get). */
  readNode(name: string): Promise<NodeLike> {
    return this.#t.request({ method: "GET", path: core("nodes", name) });
  }

  /** JSON merge patch of a Node (RBAC: nodes patch). */
  patchNode(name: string, patch: unknown): Promise<NodeLike> {
    return this.#t.request({
      method: "PATCH",
      path: core("nodes", name),
      body: patch,
      contentType: "application/merge-patch+json",
    });
  }

  /** GET a ConfigMap (RBAC: configmaps get in its namespace). */
  readNamespacedConfigMap(namespace: string, name: string): Promise<ConfigMapLike> {
    return this.#t.request({
      method: "GET",
      path: core("namespaces", namespace, "configmaps", name),
    });
  }

  /** Creates a ConfigMap (RBAC: configmaps create); 409 when it exists. */
  createNamespacedConfigMap(namespace: string, body: ConfigMapLike): Promise<ConfigMapLike> {
    return this.#t.request({
      method: "POST",
      path: core("namespaces", namespace, "configmaps"),
      body: { apiVersion: "v1", kind: "ConfigMap", ...body },
    });
  }

  /** Replaces a ConfigMap (RBAC: configmaps update); 409 on a stale resourceVersion. */
  replaceNamespacedConfigMap(
    namespace: string,
    name: string,
    body: ConfigMapLike,
  ): Promise<ConfigMapLike> {
    return this.#t.request({
      method: "PUT",
      path: core("namespaces", namespace, "configmaps", name),
      body,
    });
  }
}
