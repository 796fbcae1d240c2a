/**
 * NetworkPolicy inputs from the API server: informers on NetworkPolicies,
 * Pods (projected at ingest to labels, IPs, node, hostNetwork and named
 * ports) and Namespaces, all cluster-wide, feeding a `ProjectedStore`.
 * RBAC: list and watch on networkpolicies, pods and namespaces.
 * @module
 */
import * as k8s from "@kubernetes/client-node";
import type { Clock } from "../../system/clock.ts";
import {
  type PolicyKind,
  type PolicySource,
  ProjectedStore,
  slimPod,
} from "../../agent/policy/source.ts";
import type { PolicyInput } from "../../agent/policy/types.ts";
import { type Backoff, SupervisedInformer } from "./informer.ts";

/** Options of `KubernetesPolicySource`. */
export interface KubernetesPolicySourceOptions {
  kubeConfig: k8s.KubeConfig;
  clock: Clock;
  random: () => number;
  backoff: Backoff;
  log: (msg: string) => void;
}

/** See the module doc. */
export class KubernetesPolicySource implements PolicySource {
  readonly #store = new ProjectedStore();
  readonly #informers: SupervisedInformer<k8s.KubernetesObject>[];
  #onChange: () => void = () => {};

  constructor(opts: KubernetesPolicySourceOptions) {
    const core = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const net = opts.kubeConfig.makeApiClient(k8s.NetworkingV1Api);
    const common = {
      kubeConfig: opts.kubeConfig,
      clock: opts.clock,
      random: opts.random,
      backoff: opts.backoff,
      log: opts.log,
      onState: () => {},
    };
    const on =
      (kind: PolicyKind) => (type: "add" | "update" | "delete", obj: k8s.KubernetesObject) => {
        this.#store.apply(kind, type === "delete" ? "delete" : "set", obj);
        try {
          this.#onChange();
        } catch (e) {
          opts.log(`kubernetes: policy onChange failed: ${(e as Error).message}`);
        }
      };
    this.#informers = [
      new SupervisedInformer<k8s.KubernetesObject>({
        ...common,
        path: "/apis/networking.k8s.io/v1/networkpolicies",
        list: () => net.listNetworkPolicyForAllNamespaces(),
        onEvent: on("NetworkPolicy"),
      }),
      new SupervisedInformer<k8s.KubernetesObject>({
        ...common,
        path: "/api/v1/pods",
        list: () => core.listPodForAllNamespaces(),
        transform: slimPod,
        onEvent: on("Pod"),
      }),
      new SupervisedInformer<k8s.KubernetesObject>({
        ...common,
        path: "/api/v1/namespaces",
        list: () => core.listNamespace(),
        onEvent: on("Namespace"),
      }),
    ];
  }

  async start(onChange: () => void): Promise<void> {
    this.#onChange = onChange;
    await Promise.all(this.#informers.map((i) => i.start()));
  }

  input(): PolicyInput | undefined {
    return this.#informers.every((i) => i.synced) ? this.#store.input() : undefined;
  }

  rejected(): Map<string, string[]> {
    return new Map(this.#store.rejected);
  }

  async close(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.close()));
  }
}
