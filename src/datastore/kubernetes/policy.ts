/**
 * NetworkPolicy inputs from the API server: projected list/watches
 * (list_watch.ts) of NetworkPolicies, Pods and Namespaces, cluster-wide. Each
 * object is cut down while it is decoded to what policy reads (a Pod to its
 * labels, IPs, node, hostNetwork and named ports) and projected at once; an
 * update that changes none of it is no change. RBAC: list and watch on
 * networkpolicies, pods and namespaces.
 * @module
 */
import type { Clock } from "../../system/clock.ts";
import type { PolicySource } from "../../agent/policy/source.ts";
import {
  type Projected,
  projectNamespace,
  projectPod,
  projectPolicy,
} from "../../agent/policy/project.ts";
import type {
  NetworkPolicy,
  PolicyInput,
  PolicyNamespace,
  PolicyPod,
} from "../../agent/policy/types.ts";
import { type Backoff, ProjectedListWatch, type RawObject } from "./list_watch.ts";
import type { Selector } from "./prune.ts";
import type { ApiTransport } from "./transport.ts";
import type { LogLimiter } from "../log_limiter.ts";

/** Options of `KubernetesPolicySource` (the datastore's shared list/watch settings). */
export interface KubernetesPolicySourceOptions {
  transport: ApiTransport;
  clock: Clock;
  random: () => number;
  backoff: Backoff;
  log: (msg: string) => void;
  /** The datastore's rate limit of retry lines. */
  limiter?: LogLimiter;
  pageSize?: number;
  watchList?: boolean;
}

const META: Selector = { name: true, namespace: true, labels: true };
/** What policy reads of a Pod. */
export const POD_SELECTOR: Selector = {
  metadata: META,
  spec: {
    nodeName: true,
    hostNetwork: true,
    containers: { ports: true },
    initContainers: { ports: true },
  },
  status: { phase: true, podIP: true, podIPs: true },
};
const NAMESPACE_SELECTOR: Selector = { metadata: META };
const POLICY_SELECTOR: Selector = { metadata: META, spec: true };

const same = <T>(a: Projected<T>, b: Projected<T>) => JSON.stringify(a) === JSON.stringify(b);

/** See the module doc. */
export class KubernetesPolicySource implements PolicySource {
  readonly #policies: ProjectedListWatch<Projected<NetworkPolicy>>;
  readonly #pods: ProjectedListWatch<Projected<PolicyPod>>;
  readonly #namespaces: ProjectedListWatch<Projected<PolicyNamespace>>;
  #onChange: () => void = () => {};

  constructor(o: KubernetesPolicySourceOptions) {
    const common = {
      ...o,
      same,
      onState: () => {},
      onChanges: () => {
        try {
          this.#onChange();
        } catch (e) {
          o.log(`kubernetes: policy onChange failed: ${(e as Error).message}`);
        }
      },
    };
    this.#policies = new ProjectedListWatch({
      ...common,
      path: "/apis/networking.k8s.io/v1/networkpolicies",
      select: POLICY_SELECTOR,
      project: (x: RawObject) => projectPolicy(x),
    });
    this.#pods = new ProjectedListWatch({
      ...common,
      path: "/api/v1/pods",
      select: POD_SELECTOR,
      project: (x: RawObject) => projectPod(x),
    });
    this.#namespaces = new ProjectedListWatch({
      ...common,
      path: "/api/v1/namespaces",
      select: NAMESPACE_SELECTOR,
      project: (x: RawObject) => projectNamespace(x),
    });
  }

  #all() {
    return [this.#policies, this.#pods, this.#namespaces] as const;
  }

  async start(onChange: () => void): Promise<void> {
    this.#onChange = onChange;
    await Promise.all(this.#all().map((lw) => lw.start()));
  }

  input(): PolicyInput | undefined {
    if (!this.#all().every((lw) => lw.synced)) return undefined;
    const values = <T>(lw: ProjectedListWatch<Projected<T>>) =>
      [...lw.values()].flatMap((p) => (p.value ? [p.value] : []));
    return {
      policies: values(this.#policies),
      pods: values(this.#pods),
      namespaces: values(this.#namespaces),
    };
  }

  rejected(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const kinds = [["NetworkPolicy", this.#policies], ["Pod", this.#pods], [
      "Namespace",
      this.#namespaces,
    ]] as const;
    for (const [kind, lw] of kinds) {
      for (const [key, p] of (lw as ProjectedListWatch<Projected<unknown>>).entries()) {
        if (p.errors.length) out.set(`${kind} ${key}`, p.errors);
      }
    }
    return out;
  }

  /** The list/watches waiting out a backoff (the datastore's probe wakes them). */
  backingOff(): { retryNow(): void }[] {
    return this.#all().filter((lw) => lw.backingOff);
  }

  async close(): Promise<void> {
    await Promise.all(this.#all().map((lw) => lw.close()));
  }
}
