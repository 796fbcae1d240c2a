/**
 * Whether a netns path names the caller's own network namespace: the same
 * nsfs device and inode as /proc/self/ns/net. The plugin refuses such a
 * CNI_NETNS before any change, so a typo or a hostile runtime cannot make it
 * wire (or on DEL, unwire) the node's own interfaces.
 *
 * Deno refuses to stat anything under /proc/<pid>/ns without --allow-all,
 * which the plugin does not hold, so stat(2) is called through FFI (the
 * plugin holds --allow-ffi for netlink already); opened only when asked.
 * @module
 */

const STAT = { stat: { parameters: ["buffer", "buffer"], result: "i32" } } as const;

type StatLib = Deno.DynamicLibrary<typeof STAT>;

function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** st_dev and st_ino (offsets 0 and 8 of struct stat on x86_64 and aarch64), or undefined. */
function identity(lib: StatLib, path: string): string | undefined {
  const buf = new Uint8Array(256);
  if (lib.symbols.stat(cString(path), buf) !== 0) return undefined;
  const v = new DataView(buf.buffer);
  return `${v.getBigUint64(0, true)}:${v.getBigUint64(8, true)}`;
}

/** Compares nsfs identities; false when either path cannot be stat'ed. */
export function isOwnNetns(path: string, own = "/proc/self/ns/net"): boolean {
  const lib = Deno.dlopen("libc.so.6", STAT);
  try {
    const a = identity(lib, path);
    return a !== undefined && a === identity(lib, own);
  } finally {
    lib.close();
  }
}
