/**
 * Installing the plugin binaries and the conflist. Binaries go through a temp
 * file, chmod and rename (FileSystem.writeAtomic), so a runtime executing the
 * plugin at that moment sees the old or the new file, never half of one and
 * never "text file busy". Both are written only when their bytes differ.
 * @module
 */
import { renderKubeconfig } from "../../ipam/ippool/kubeconfig.ts";
import type { Clock } from "../../system/clock.ts";
import type { FileSystem } from "../../system/fs.ts";
import type { Logger } from "../observe/mod.ts";

/** Paths and names of an install. */
export interface InstallPaths {
  cniBinDir: string;
  cniConfDir: string;
  conflistName: string;
}

/** Path of the conflist. */
export function conflistPath(p: InstallPaths): string {
  return `${p.cniConfDir.replace(/\/+$/, "")}/${p.conflistName}`;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Copies `src` to `<destDir>/<name>` (mode 0755) unless the destination
 * already has the same bytes. Returns true when it wrote.
 */
export async function installBinary(
  fs: FileSystem,
  opts: { src: string; destDir: string; name?: string },
): Promise<boolean> {
  const bytes = await fs.readBytes(opts.src);
  if (bytes === undefined) {
    throw new Error(`Cannot install the plugin: ${opts.src} does not exist`);
  }
  const dest = `${opts.destDir.replace(/\/+$/, "")}/${opts.name ?? baseName(opts.src)}`;
  const current = await fs.readBytes(dest);
  if (current !== undefined && sameBytes(current, bytes)) return false;
  await fs.mkdirp(opts.destDir);
  await fs.writeAtomic(dest, bytes, { mode: 0o755 });
  return true;
}

/** Installs the hostgate plugin (as "hostgate") and any extra plugins; returns how many it wrote. */
export async function installPlugins(
  fs: FileSystem,
  opts: { pluginSrc: string; extraPlugins: readonly string[]; cniBinDir: string },
): Promise<number> {
  let n = 0;
  if (await installBinary(fs, { src: opts.pluginSrc, destDir: opts.cniBinDir, name: "hostgate" })) {
    n++;
  }
  for (const src of opts.extraPlugins) {
    if (await installBinary(fs, { src, destDir: opts.cniBinDir })) n++;
  }
  return n;
}

/** True when the installed plugin exists (cheap check for the periodic resync). */
export function pluginPresent(fs: FileSystem, cniBinDir: string): Promise<boolean> {
  return fs.exists(`${cniBinDir.replace(/\/+$/, "")}/hostgate`);
}

/** Writes the conflist when its text differs; returns true when it wrote. */
export async function ensureConflist(
  fs: FileSystem,
  opts: { path: string; content: string },
): Promise<boolean> {
  if (await fs.readText(opts.path) === opts.content) return false;
  await fs.mkdirp(opts.path.slice(0, opts.path.lastIndexOf("/")) || "/");
  await fs.writeAtomic(opts.path, opts.content, { mode: 0o644 });
  return true;
}

/** Removes the conflist; returns false when it was not there. */
export function removeConflist(fs: FileSystem, path: string): Promise<boolean> {
  return fs.remove(path);
}

/** Where a pod's service account token and cluster CA are mounted. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Where the plugin's own account token (Secret hostgate-plugin-token of the
 * hostgate-plugin ServiceAccount, deploy/rbac.yaml) is mounted: token, ca.crt.
 * The plugin's kubeconfig is written from it, never from the agent's token,
 * so the host-side plugin holds only IPAM rights.
 */
export const PLUGIN_TOKEN_DIR = "/var/run/secrets/hostgate.io/plugin";

/** Options of `ensurePluginKubeconfig`. */
export interface PluginKubeconfigOptions {
  /** Where the plugin reads it (the ipam section's `kubeconfig`). */
  path: string;
  /** The API server URL, from KUBERNETES_SERVICE_HOST/PORT. */
  server: string;
  /** The plugin account's token mount; default PLUGIN_TOKEN_DIR. */
  serviceAccountDir?: string;
}

/**
 * Writes the kubeconfig the plugin's `hostgate-ippool` IPAM uses: the
 * hostgate-plugin account's token and CA (PLUGIN_TOKEN_DIR), the in-cluster
 * API URL, mode 0600 (it holds a credential). The plugin runs on the host, outside this pod, so it cannot
 * read the token mount itself. Written only when the content changed, i.e.
 * when kubelet rotated the token; returns true when it wrote.
 */
export async function ensurePluginKubeconfig(
  fs: FileSystem,
  opts: PluginKubeconfigOptions,
): Promise<boolean> {
  const dir = (opts.serviceAccountDir ?? PLUGIN_TOKEN_DIR).replace(/\/+$/, "");
  const token = (await fs.readText(`${dir}/token`))?.trim();
  if (!token) {
    throw new Error(`Cannot write the plugin kubeconfig: no service account token in ${dir}`);
  }
  const caPem = await fs.readText(`${dir}/ca.crt`);
  const content = renderKubeconfig({ server: opts.server, token, caPem });
  // Same content but readable by others (someone chmod'ed it): written again, 0600.
  if (await fs.readText(opts.path) === content && (await fs.mode(opts.path)) === SECRET_MODE) {
    return false;
  }
  await fs.mkdirp(opts.path.slice(0, opts.path.lastIndexOf("/")) || "/");
  await fs.writeAtomic(opts.path, content, { mode: SECRET_MODE });
  return true;
}

/** Mode of every file holding a credential. */
export const SECRET_MODE = 0o600;

/**
 * Puts credential files the agent uses back to mode 0600 when someone made
 * them readable by others (rewritten in place, same content). Returns the
 * paths fixed; a file that cannot be rewritten (a read-only mount) throws.
 */
export async function ensureSecretModes(
  fs: FileSystem,
  paths: readonly string[],
): Promise<string[]> {
  const fixed: string[] = [];
  for (const p of paths) {
    const mode = await fs.mode(p);
    if (mode === undefined || (mode & 0o077) === 0) continue;
    const bytes = await fs.readBytes(p);
    if (bytes === undefined) continue;
    await fs.writeAtomic(p, bytes, { mode: SECRET_MODE });
    fixed.push(p);
  }
  return fixed;
}

/**
 * `run`: re-writes the plugin kubeconfig whenever the token file changes,
 * checking every `intervalMs` — far more often than kubelet rotates a
 * projected token (at 80% of its lifetime, at least minutes), so the plugin's
 * copy is refreshed long before the old token expires. Ends with `signal`.
 */
export async function keepPluginKubeconfig(
  opts: PluginKubeconfigOptions & {
    fs: FileSystem;
    clock: Clock;
    log: Logger;
    intervalMs: number;
    signal: AbortSignal;
  },
): Promise<void> {
  while (!opts.signal.aborted) {
    try {
      if (await ensurePluginKubeconfig(opts.fs, opts)) {
        opts.log.info("plugin kubeconfig written", { path: opts.path });
      }
    } catch (e) {
      opts.log.warn("Cannot refresh the plugin kubeconfig", { error: (e as Error).message });
    }
    await opts.clock.sleep(opts.intervalMs, opts.signal);
  }
}
