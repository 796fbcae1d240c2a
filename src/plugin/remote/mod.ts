/**
 * Plugin calls served by the node's agent: the wire format, the thin
 * client the plugin process becomes when its config names the agent's
 * socket, and the agent's server and executor.
 * @module
 */
export * from "./frame.ts";
export * from "./socket_path.ts";
export { callAgent, type CallAgentOptions, tryAgainError } from "./client.ts";
export {
  type PluginServer,
  type PluginServerOptions,
  servePluginCalls,
  serverSocketProblem,
} from "./server.ts";
export { type ExecutorOptions, pluginExecutor, queuedLocks, serverFileSystem } from "./executor.ts";
