/**
 * The agent's command line: the option table and its parser (the
 * `AgentConfig` every other agent folder reads), the one-shot subcommands
 * (install, uninstall, status) and the `run` daemon that wires the reconcile
 * loop, the health server and the datastore together. main.ts is the
 * program's entry point and is not exported.
 *
 * Owns: flags, environment fallbacks, help texts, wiring real dependencies.
 * Must not: compute desired state, write routes, rules or files itself; it
 * calls the other folders through their mod.ts.
 * @module
 */
export type {
  AgentConfig,
  Backend,
  Command,
  DatastoreKind,
  FirewallBackendName,
  IpamMode,
} from "./agent_config.ts";
export { ConfigError, parseConfig, parseDuration, type ParseInputs } from "./config.ts";
export { commandHelp, OPTIONS, type OptionSpec, usage } from "./options.ts";
export { type CommandDeps, installCommand, statusCommand, uninstallCommand } from "./commands.ts";
export { runAgent, type RunDeps } from "./run.ts";
export { datastoreOptions } from "./datastore_options.ts";
