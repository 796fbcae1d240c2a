/**
 * Node objects shaped like the ones kubelet writes (~10 KB each): labels and
 * annotations, managedFields of kubelet, kube-controller-manager and kubeadm,
 * taints, capacity, five conditions with heartbeats, addresses, nodeInfo and
 * ~30 images with digests. Tests and the agent bench feed these to the list/
 * watch server so the datastore meets the payload a real cluster sends.
 * `kubeletStatusUpdate` makes the update kubelet sends every few seconds to
 * minutes: new heartbeats and image list, nothing the agent reads.
 * @module
 */

import type { KubeObject } from "./apiserver_semantics.ts";

/** What varies between generated Nodes. */
export interface KubeletNodeSpec {
  name: string;
  /** spec.podCIDRs (omit for a node without controller-manager allocation). */
  podCidrs?: string[];
  /** InternalIP addresses. */
  ips?: string[];
  /** Extra annotations (hostgate's VTEP and node-ips ones). */
  annotations?: Record<string, string>;
}

const hex = (seed: number, len: number) => {
  let out = "";
  let x = (seed * 2654435761) >>> 0;
  while (out.length < len) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += x.toString(16).padStart(8, "0");
  }
  return out.slice(0, len);
};

const REPOS = [
  "registry.k8s.io/etcd",
  "registry.k8s.io/kube-apiserver",
  "registry.k8s.io/kube-controller-manager",
  "registry.k8s.io/kube-proxy",
  "registry.k8s.io/kube-scheduler",
  "registry.k8s.io/pause",
  "registry.k8s.io/coredns/coredns",
  "docker.io/library/nginx",
  "docker.io/library/redis",
  "docker.io/library/postgres",
  "quay.io/prometheus/node-exporter",
  "quay.io/prometheus/prometheus",
  "ghcr.io/fluxcd/source-controller",
  "docker.io/grafana/grafana",
  "docker.io/bitnami/kafka",
];

function images(seed: number, tick: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < 30; i++) {
    const repo = REPOS[(seed + i) % REPOS.length]!;
    const tag = `v1.${(i + tick) % 40}.${(seed + i) % 9}`;
    out.push({
      names: [`${repo}@sha256:${hex(seed * 31 + i + tick, 64)}`, `${repo}:${tag}`],
      sizeBytes: 10_000_000 + ((seed * 7919 + i * 104729) % 900_000_000),
    });
  }
  return out;
}

function time(tick: number): string {
  return new Date(Date.UTC(2026, 0, 1) + tick * 10_000).toISOString().replace(/\.\d+Z$/, "Z");
}

function conditions(tick: number): unknown[] {
  const c = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: time(tick),
    lastTransitionTime: time(0),
    reason,
    message,
  });
  return [
    c(
      "MemoryPressure",
      "False",
      "KubeletHasSufficientMemory",
      "kubelet has sufficient memory available",
    ),
    c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    c("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    c("NetworkUnavailable", "False", "RouteCreated", "hostgate route created"),
  ];
}

const managedFields = (name: string, tick: number) => [
  {
    manager: "kubeadm",
    operation: "Update",
    apiVersion: "v1",
    time: time(0),
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:metadata": {
        "f:annotations": { "f:kubeadm.alpha.kubernetes.io/cri-socket": {} },
        "f:labels": { "f:node-role.kubernetes.io/worker": {} },
      },
    },
  },
  {
    manager: "kube-controller-manager",
    operation: "Update",
    apiVersion: "v1",
    time: time(1),
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:metadata": { "f:annotations": { "f:node.alpha.kubernetes.io/ttl": {} } },
      "f:spec": { "f:podCIDR": {}, "f:podCIDRs": { ".": {}, [`v:"${name}"`]: {} } },
    },
  },
  {
    manager: "kubelet",
    operation: "Update",
    apiVersion: "v1",
    time: time(tick),
    fieldsType: "FieldsV1",
    subresource: "status",
    fieldsV1: {
      "f:status": {
        "f:allocatable": { "f:cpu": {}, "f:ephemeral-storage": {}, "f:memory": {}, "f:pods": {} },
        "f:capacity": { "f:cpu": {}, "f:ephemeral-storage": {}, "f:memory": {}, "f:pods": {} },
        "f:conditions": Object.fromEntries(
          ["DiskPressure", "MemoryPressure", "PIDPressure", "Ready", "NetworkUnavailable"].map(
            (t) => [`k:{"type":"${t}"}`, {
              "f:lastHeartbeatTime": {},
              "f:lastTransitionTime": {},
              "f:message": {},
              "f:reason": {},
              "f:status": {},
            }],
          ),
        ),
        "f:daemonEndpoints": { "f:kubeletEndpoint": { "f:Port": {} } },
        "f:images": {},
        "f:nodeInfo": {
          "f:architecture": {},
          "f:bootID": {},
          "f:containerRuntimeVersion": {},
          "f:kernelVersion": {},
          "f:kubeProxyVersion": {},
          "f:kubeletVersion": {},
          "f:machineID": {},
          "f:operatingSystem": {},
          "f:osImage": {},
          "f:systemUUID": {},
        },
        "f:addresses": { ".": {}, 'k:{"type":"Hostname"}': {}, 'k:{"type":"InternalIP"}': {} },
      },
    },
  },
];

/** A kubelet-shaped Node; `tick` varies heartbeats and images (a status update). */
export function kubeletNode(spec: KubeletNodeSpec, tick = 0): KubeObject {
  const seed = [...spec.name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const zone = `zone-${seed % 3}`;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: spec.name,
      labels: {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "node-role.kubernetes.io/worker": "",
        "node.kubernetes.io/instance-type": "m6i.2xlarge",
        "topology.kubernetes.io/region": "eu-west-1",
        "topology.kubernetes.io/zone": zone,
      },
      annotations: {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        "csi.volume.kubernetes.io/nodeid": `{"ebs.csi.aws.com":"i-${hex(seed, 17)}"}`,
        ...spec.annotations,
      },
      managedFields: managedFields(spec.name, tick),
    },
    spec: {
      ...(spec.podCidrs?.length ? { podCIDR: spec.podCidrs[0], podCIDRs: spec.podCidrs } : {}),
      providerID: `aws:///eu-west-1a/i-${hex(seed, 17)}`,
      taints: seed % 5 === 0
        ? [{ key: "dedicated", value: "batch", effect: "NoSchedule" }]
        : undefined,
    },
    status: {
      capacity: { cpu: "8", "ephemeral-storage": "102350Mi", memory: "32408208Ki", pods: "110" },
      allocatable: {
        cpu: "7910m",
        "ephemeral-storage": "94290Mi",
        memory: "31391376Ki",
        pods: "110",
      },
      conditions: conditions(tick),
      addresses: [
        ...(spec.ips ?? []).map((address) => ({ type: "InternalIP", address })),
        { type: "Hostname", address: spec.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hex(seed + 1, 32),
        systemUUID: `ec2${hex(seed + 2, 5)}-${hex(seed + 3, 4)}-${hex(seed + 4, 4)}-${
          hex(seed + 5, 4)
        }-${hex(seed + 6, 12)}`,
        bootID: `${hex(seed + 7, 8)}-${hex(seed + 8, 4)}-${hex(seed + 9, 4)}-${hex(seed + 10, 4)}-${
          hex(seed + 11, 12)
        }`,
        kernelVersion: "6.1.0-28-cloud-amd64",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        containerRuntimeVersion: "containerd://1.7.24",
        kubeletVersion: "v1.31.4",
        kubeProxyVersion: "v1.31.4",
        operatingSystem: "linux",
        architecture: "amd64",
      },
      images: images(seed, tick),
    },
  };
}

/**
 * The status-only update kubelet sends: same Node, new heartbeats, a changed
 * image list and managedFields time. Nothing the agent reads changes.
 */
export function kubeletStatusUpdate(spec: KubeletNodeSpec, tick: number): KubeObject {
  return kubeletNode(spec, tick);
}
