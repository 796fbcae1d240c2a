/**
 * Turning a failed step into a CniError that says what was being done. The
 * kernel's typed errors keep their class as `cause`; only the boundary
 * (dispatch.ts) turns the result into `{code, msg, details}`.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import { NetlinkError } from "../system/netlink/errors.ts";
import type { Link, NetlinkHandle } from "../system/netlink/types.ts";

/** The message of anything thrown. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `e` as a CniError: kept when it is one, 101 for kernel errors, 999 otherwise. */
export function toCniError(e: unknown, action?: string): CniError {
  if (e instanceof CniError) return e;
  const code = e instanceof NetlinkError ? CniCode.NetlinkFailure : CniCode.Internal;
  const msg = action ? `Cannot ${action}: ${messageOf(e)}` : messageOf(e);
  const details = e instanceof NetlinkError ? `errno ${e.errno}` : "";
  return new CniError(code, msg, details, { cause: e });
}

/** Runs the synchronous `fn`, rethrowing any failure as a CniError naming `action`. */
export function step<T>(action: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toCniError(e, action);
  }
}

/**
 * The pod's interface `ifname`, which the wiring just moved into the pod netns:
 * 101 naming it when it is gone (the pod was torn down under us).
 */
export function podLink(pod: NetlinkHandle, ifname: string): Link {
  const link = step(`find ${ifname} in the pod`, () => pod.getLink(ifname));
  if (!link) {
    throw new CniError(
      CniCode.NetlinkFailure,
      `Cannot configure ${ifname}: it vanished from the pod netns`,
    );
  }
  return link;
}
