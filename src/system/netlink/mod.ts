/**
 * hostgate's netlink layer: the interface (types.ts), typed errors, the real
 * implementation over Deno FFI and the stateful fake for unit tests.
 *
 * ```ts
 * const nl: Netlink = new FfiNetlink();
 * const pod = nl.open("/run/netns/pod1");
 * try {
 *   const eth0 = pod.getLink("eth0");
 * } finally {
 *   pod.close();
 * }
 * ```
 * @module
 */

export * from "./types.ts";
export * from "./errors.ts";
export {
  describeErrno,
  Errno,
  kernelError,
  type KernelErrorOptions,
  type Subject,
} from "./errno.ts";
export {
  type BridgeSpec,
  BridgeVanishedError,
  ensureBridge,
  type EnsuredBridge,
  NotABridgeError,
  randomMac,
} from "./bridge.ts";
export { FfiNetlink } from "./ffi_netlink.ts";
export { FakeNetlink } from "./fake_netlink.ts";
export type { FakeCall, FakeLink, FakeNs, FakeSnapshot, FaultHook } from "./fake_netlink.ts";
export { formatCidr, formatIp, formatMac, parseCidr, parseIp, parseMac } from "./ip.ts";
