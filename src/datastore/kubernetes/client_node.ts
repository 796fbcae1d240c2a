/**
 * The one piece of @kubernetes/client-node the agent may load: KubeConfig,
 * for a kubeconfig user with an exec or auth-provider plugin (access.ts
 * imports this module dynamically then, and only then). A static re-export,
 * so the bundler keeps just what KubeConfig needs.
 * @module
 */
export { KubeConfig } from "@kubernetes/client-node";
