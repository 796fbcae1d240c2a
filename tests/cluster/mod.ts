/**
 * The simulated cluster: topology, datastores, agents, pods, probes. Used by
 * `deno task demo` (demo.ts), the e2e suite (tests/e2e_test.ts) and the data
 * plane benchmark (bench/dataplane_bench.ts).
 * @module
 */
export * from "./cluster.ts";
export { type Backend, DATASTORE_KINDS, type DatastoreKind, startBackend } from "./datastores.ts";
export * from "./probes.ts";
export { pidsIn, type Proc, spawnIn, stopProc, sweepNamespaces, tail } from "./procs.ts";
export { addPod, delPod, type NodeCni, type PodAttachment, type PortMapping } from "./runtime.ts";
export { buildTopology, type SimNode, type Topology } from "./topology.ts";
