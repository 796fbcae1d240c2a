/**
 * What the agent installs for the container runtime: the plugin binaries in
 * the CNI bin dir, the conflist (rendered as a pure function, written
 * temp+rename and only when it changed) and the plugin's kubeconfig for
 * IPPool IPAM.
 *
 * Owns: the files it writes (plugin binaries, its conflist, its kubeconfig).
 * Must not: write other conflists or binaries, or decide readiness (the
 * reconciler writes the conflist only once routes and rules are in place).
 * @module
 */
export {
  type ConflistConfig,
  conflistFor,
  type ConflistIppool,
  conflistIppool,
  type ConflistSpec,
  DEFAULT_IPAM_DIR,
  renderConflist,
} from "./conflist.ts";
export {
  conflistPath,
  ensureConflist,
  ensurePluginKubeconfig,
  ensureSecretModes,
  installBinary,
  type InstallPaths,
  installPlugins,
  keepPluginKubeconfig,
  PLUGIN_TOKEN_DIR,
  type PluginKubeconfigOptions,
  pluginPresent,
  removeConflist,
  SECRET_MODE,
  SERVICE_ACCOUNT_DIR,
} from "./install.ts";
