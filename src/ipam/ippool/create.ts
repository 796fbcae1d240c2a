/**
 * Builds the IPPool backend from the `ipam` section: the only place that
 * picks the real transport (`fetch`) and the host name, so everything else
 * runs against fakes in unit tests.
 * @module
 */
import type { FileSystem } from "../../system/fs.ts";
import type { RandomBelow } from "./allocator.ts";
import { fetchTransport, type HttpTransport, KubeClient } from "./client.ts";
import { parseIppoolConfig } from "./config.ts";
import { IppoolIpam } from "./ipam.ts";
import { loadKubeconfig } from "./kubeconfig.ts";

/** Options of `createIppoolIpam`. */
export interface CreateIppoolOptions {
  /** The raw `ipam` section. */
  ipam: Record<string, unknown>;
  /** Reads the kubeconfig (and token or CA files it names). */
  fs: FileSystem;
  /** Default: `fetch`, trusting the kubeconfig's CA. */
  transport?: HttpTransport;
  /** Default: `Deno.hostname()`, the node name kubelet uses unless told otherwise. */
  hostname?: () => string;
  random?: RandomBelow;
}

/**
 * Parses the config (CniError code 7 on a bad value; nothing is read yet) and
 * returns the backend; the kubeconfig is read on its first call.
 */
export function createIppoolIpam(opts: CreateIppoolOptions): IppoolIpam {
  const config = parseIppoolConfig(opts.ipam);
  return new IppoolIpam({
    config,
    connect: async () => {
      const endpoint = await loadKubeconfig(opts.fs, config.kubeconfig);
      return new KubeClient({
        endpoint,
        transport: opts.transport ?? fetchTransport(endpoint.caPem),
        timeoutMs: config.timeoutMs,
      });
    },
    hostname: opts.hostname ?? (() => Deno.hostname()),
    random: opts.random,
  });
}
