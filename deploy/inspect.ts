/**
 * Reads the deploy/ manifests the way the cluster will: the objects in
 * kustomization order, a container's environment resolved as the kubelet
 * resolves it, and the host path behind a container path. Shared by the tests
 * of the manifests, of `install` under the DaemonSet's settings, and of RBAC.
 * @module
 */
import { parseAllDocuments } from "yaml";
import { loadSources } from "./render.ts";

// deno-lint-ignore no-explicit-any
type Obj = any;

/** The parsed objects of deploy/ and the parts the checks look at. */
export interface Deployment {
  objects: Obj[];
  daemonSet: Obj;
  /** The DaemonSet's pod spec. */
  pod: Obj;
  /** The `run` container. */
  agent: Obj;
  /** The `install` init container. */
  init: Obj;
  configMap: Obj;
  /** The agent's ClusterRole (hostgate-agent; the plugin has its own, hostgate-plugin). */
  clusterRole: Obj;
  role: Obj;
}

/** Parses every YAML document of `text`; throws on a syntax error. */
export function parseDocs(text: string, where: string): Obj[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(`Cannot parse ${where}: ${d.errors[0]!.message}`);
    return d.toJS();
  });
}

/** Loads deploy/ (the files kustomization.yaml lists). */
export async function loadDeployment(): Promise<Deployment> {
  const objects = (await loadSources()).flatMap((s) => parseDocs(s.text, s.path));
  const find = (kind: string, name?: string): Obj => {
    const hits = objects.filter((o) =>
      o.kind === kind && (name === undefined || o.metadata?.name === name)
    );
    if (hits.length !== 1) throw new Error(`Cannot find the ${kind}: ${hits.length} in deploy/`);
    return hits[0];
  };
  const daemonSet = find("DaemonSet");
  const pod = daemonSet.spec.template.spec;
  return {
    objects,
    daemonSet,
    pod,
    agent: pod.containers.find((c: Obj) => c.name === "agent"),
    init: pod.initContainers.find((c: Obj) => c.name === "install"),
    configMap: find("ConfigMap"),
    clusterRole: find("ClusterRole", "hostgate-agent"),
    role: find("Role"),
  };
}

/**
 * A container's environment as the kubelet gives it on node `nodeName`:
 * values, ConfigMap keys (which must exist) and the downward API fields used.
 */
export function containerEnv(
  d: Deployment,
  container: Obj,
  nodeName: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env) {
    const ref = e.valueFrom?.configMapKeyRef;
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (ref) {
      if (ref.name !== d.configMap.metadata.name || !(ref.key in d.configMap.data)) {
        throw new Error(`Cannot resolve ${e.name}: no key ${ref.key} in ConfigMap ${ref.name}`);
      }
      env[e.name] = d.configMap.data[ref.key];
    } else if (field === "spec.nodeName") env[e.name] = nodeName;
    else if (field === "metadata.namespace") env[e.name] = d.daemonSet.metadata.namespace;
    else throw new Error(`Cannot resolve ${e.name}: unexpected ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}

/**
 * The host path behind `path` in `container`: the deepest mount holding it
 * must be a writable hostPath volume (else writes stay in the container).
 */
export function hostPathOf(
  d: Deployment,
  container: Obj,
  path: string,
): { hostPath: string; type?: string } {
  const mount = container.volumeMounts
    .filter((m: Obj) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
    .sort((a: Obj, b: Obj) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) throw new Error(`Cannot find ${path} in ${container.name}: on no volume`);
  if (mount.readOnly) throw new Error(`Cannot write ${path} in ${container.name}: read-only`);
  const volume = d.pod.volumes.find((v: Obj) => v.name === mount.name);
  if (!volume?.hostPath) {
    throw new Error(
      `Cannot reach the host at ${path} in ${container.name}: ${mount.name} is no hostPath`,
    );
  }
  return {
    hostPath: volume.hostPath.path + path.slice(mount.mountPath.length),
    type: volume.hostPath.type,
  };
}
