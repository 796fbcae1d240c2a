/**
 * A directory as a datastore, for single hosts, tests and the demo: one JSON
 * file per node, written temp+rename, watched with the file system's
 * notifications and a periodic rescan; subnets assigned under a lock file.
 *
 * Owns: the node files in its directory and its lock file. Must not:
 * validate entries for routing (the agent's trust gate does), nor import the
 * other datastores.
 * @module
 */
export {
  deleteNodeEntry,
  denoWatchDir,
  type DirWatch,
  FileDatastore,
  type FileDatastoreOptions,
  type NodeEntryOptions,
  nodeEntryPath,
  nodesDir,
  readNodeEntries,
  type WatchDir,
  writeNodeEntry,
} from "./datastore.ts";
