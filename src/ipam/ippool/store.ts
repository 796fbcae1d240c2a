/**
 * The API operations of the IPPool backend, one method per request shape:
 * read the pool, list allocations by label, create, take over, release, read
 * a pod's phase. Each maps the statuses the allocator acts on (404, 409) to
 * return values and leaves "try again later" (code 11) to the client, so
 * ipam.ts reads as the allocation algorithm only.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import { podReleasesAddress } from "./allocator.ts";
import { HTTP, isStatus, KubeApiError, type KubeClient } from "./client.ts";
import {
  type Allocation,
  type AllocationInput,
  allocationObject,
  LABEL_CONTAINER,
  LABEL_POOL,
  parseAllocation,
  releasedObject,
  selector,
} from "./objects.ts";
import { parsePool, type Pool } from "./pool.ts";

/** An unexpected API error (400, 422, ...): a bug, reported as code 999 with the API's words. */
function unexpected(e: unknown): unknown {
  return e instanceof KubeApiError
    ? new CniError(CniCode.Internal, e.message, "", { cause: e })
    : e;
}

/** The allocations of one pool, in the API. */
export class AllocationStore {
  readonly pool: string;
  readonly #api: KubeClient;

  constructor(api: KubeClient, pool: string) {
    this.#api = api;
    this.pool = pool;
  }

  /** The pool; code 7 when it does not exist. */
  async getPool(): Promise<Pool> {
    let obj: unknown;
    try {
      obj = await this.#api.kube({
        verb: "get",
        group: "hostgate.io",
        resource: "ippools",
        name: this.pool,
      });
    } catch (e) {
      if (isStatus(e, HTTP.notFound)) {
        throw new CniError(
          CniCode.InvalidNetworkConfig,
          `Cannot find IPPool ${this.pool}: no such IPPool in the cluster`,
        );
      }
      throw unexpected(e);
    }
    return parsePool(obj);
  }

  /**
   * This pool's allocations with the given labels; `released` adds "has no
   * container label" (Released ones), `limit` caps the answer (any N of them).
   */
  async list(
    labels: Record<string, string>,
    opts: { released?: boolean; limit?: number } = {},
  ): Promise<Allocation[]> {
    let labelSelector = selector({ [LABEL_POOL]: this.pool, ...labels });
    if (opts.released) labelSelector += `,!${LABEL_CONTAINER}`;
    let body: unknown;
    try {
      body = await this.#api.kube({
        verb: "list",
        group: "hostgate.io",
        resource: "ipallocations",
        labelSelector,
        limit: opts.limit,
      });
    } catch (e) {
      throw unexpected(e);
    }
    const items = (body as { items?: unknown[] } | null)?.items ?? [];
    return items.map(parseAllocation).filter((a): a is Allocation =>
      a !== undefined && a.pool === this.pool
    ).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Creates the object of an address for its owner; undefined when it exists (409). */
  async create(input: AllocationInput): Promise<Allocation | undefined> {
    try {
      const made = await this.#api.kube({
        verb: "create",
        group: "hostgate.io",
        resource: "ipallocations",
        body: allocationObject(input),
      });
      return parseAllocation(made);
    } catch (e) {
      if (isStatus(e, HTTP.conflict)) return undefined;
      throw unexpected(e);
    }
  }

  /** Takes over `old` for a new owner; undefined when it changed meanwhile (409) or is gone. */
  async takeOver(old: Allocation, input: AllocationInput): Promise<Allocation | undefined> {
    try {
      const made = await this.#api.kube({
        verb: "update",
        group: "hostgate.io",
        resource: "ipallocations",
        name: old.name,
        body: allocationObject({ ...input, ip: old.ip, resourceVersion: old.resourceVersion }),
      });
      return parseAllocation(made);
    } catch (e) {
      if (isStatus(e, HTTP.conflict) || isStatus(e, HTTP.notFound)) return undefined;
      throw unexpected(e);
    }
  }

  /**
   * Releases `a`: a pod's address is kept as Released (its next ADD finds it
   * again), any other is deleted. False when it changed meanwhile (409).
   */
  async release(a: Allocation): Promise<boolean> {
    try {
      if (a.podName && a.podNamespace) {
        await this.#api.kube({
          verb: "update",
          group: "hostgate.io",
          resource: "ipallocations",
          name: a.name,
          body: releasedObject(a),
        });
      } else {
        await this.#api.kube({
          verb: "delete",
          group: "hostgate.io",
          resource: "ipallocations",
          name: a.name,
          resourceVersion: a.resourceVersion,
        });
      }
      return true;
    } catch (e) {
      if (isStatus(e, HTTP.notFound)) return true;
      if (isStatus(e, HTTP.conflict)) return false;
      throw unexpected(e);
    }
  }

  /** The phase of the pod holding `a`; undefined when the pod does not exist. */
  async podPhase(a: Allocation): Promise<string | undefined> {
    try {
      const pod = await this.#api.kube({
        verb: "get",
        group: "",
        resource: "pods",
        namespace: a.podNamespace!,
        name: a.podName!,
      }) as { status?: { phase?: string } };
      return pod.status?.phase ?? "Pending";
    } catch (e) {
      if (isStatus(e, HTTP.notFound)) return undefined;
      throw unexpected(e);
    }
  }

  /** True when `a` may be taken from its holder (released, or its pod gone or finished). */
  async reclaimable(a: Allocation): Promise<boolean> {
    return a.state === "Released" || podReleasesAddress(await this.podPhase(a));
  }
}
