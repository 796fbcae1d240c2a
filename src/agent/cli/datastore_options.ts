/**
 * Maps the agent's config onto the datastore factory's options, so every
 * knob of every datastore has one flag and one environment variable.
 * @module
 */
import type { CreateDatastoreOptions } from "../../datastore/mod.ts";
import type { AgentConfig } from "./agent_config.ts";
import type { Logger } from "../observe/mod.ts";

/** The `createDatastore` options for this config. */
export function datastoreOptions(
  cfg:
    & Pick<
      AgentConfig,
      | "datastore"
      | "clusterCidrs"
      | "nodePrefixLengthV4"
      | "nodePrefixLengthV6"
      | "kubeconfig"
      | "namespace"
      | "etcdEndpoints"
      | "etcdPrefix"
      | "storeDir"
    >
    & Partial<Pick<AgentConfig, "ipam" | "kubeList">>,
  log: Logger,
): CreateDatastoreOptions {
  const common = {
    clusterCidr: cfg.clusterCidrs,
    nodePrefixLength: cfg.nodePrefixLengthV4,
    nodePrefixLengthV6: cfg.nodePrefixLengthV6,
  };
  const sink = (msg: string) => log.info(msg, { datastore: cfg.datastore });
  switch (cfg.datastore) {
    case "file":
      return { kind: "file", dir: cfg.storeDir, ...common, log: sink };
    case "etcd":
      return {
        kind: "etcd",
        endpoints: cfg.etcdEndpoints,
        prefix: cfg.etcdPrefix.endsWith("/") ? cfg.etcdPrefix : `${cfg.etcdPrefix}/`,
        ...common,
        log: sink,
      };
    case "kubernetes":
      return {
        kind: "kubernetes",
        kubeconfigPath: cfg.kubeconfig === "" ? undefined : cfg.kubeconfig,
        namespace: cfg.namespace,
        ...common,
        watchAllocations: cfg.ipam === "ippool",
        watchList: cfg.kubeList === "watch-list",
      };
  }
}
