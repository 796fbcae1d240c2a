/**
 * Whether a netns path names the caller's own network namespace: the same
 * nsfs inode as /proc/self/ns/net. The plugin refuses such a CNI_NETNS
 * before any change, so a typo or a hostile runtime cannot make it wire (or
 * on DEL, unwire) the node's own interfaces.
 * @module
 */

/** Compares nsfs identities (device and inode); false when either path cannot be read. */
export function isOwnNetns(path: string, own = "/proc/self/ns/net"): boolean {
  try {
    const a = Deno.statSync(path);
    const b = Deno.statSync(own);
    return a.dev === b.dev && a.ino !== null && a.ino === b.ino;
  } catch {
    return false;
  }
}
