/**
 * The real Netlink over Deno FFI to libc. Needs --allow-ffi and root (or
 * CAP_NET_ADMIN + CAP_SYS_ADMIN for other netns).
 * @module
 */

import { FfiHandle } from "./ffi_handle.ts";
import { type Libc, openLibc } from "./libc.ts";
import { monitorRoutes } from "./monitor.ts";
import type { Netlink, NetlinkHandle, RouteMonitorOptions } from "./types.ts";

/** Opens real kernel handles; share one instance per process. */
export class FfiNetlink implements Netlink {
  readonly #libc: Libc;

  /** Opens libc unless a library is passed (to share one between instances). */
  constructor(libc: Libc = openLibc()) {
    this.#libc = libc;
  }

  open(netns?: string): NetlinkHandle {
    return new FfiHandle(this.#libc, netns ?? "");
  }

  monitorRoutes(opts: RouteMonitorOptions): Promise<void> {
    return monitorRoutes(this.#libc, opts);
  }
}
