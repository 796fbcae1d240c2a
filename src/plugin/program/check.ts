/**
 * The plugin program of CHECK: prevResult against the kernel and the IPAM reservation.
 * main.ts imports exactly one program per call; in the bundle each is one
 * self-contained file (src/build/bundle.ts), so a call loads and compiles
 * only its own command's code.
 * @module
 */
import { cmdCheck } from "../commands/check.ts";
import { FfiNetlink } from "../../system/netlink/ffi_netlink.ts";
import { NetlinkTc } from "../../system/netlink/tc_handle.ts";
import { FfiNftSets } from "../../system/nftables/ffi_sets.ts";
import { run } from "../run.ts";
import type { Tracer } from "../trace.ts";

/** Runs the call; returns its exit code. */
export function start(trace: Tracer, stdin?: string): Promise<number> {
  return run(trace, {
    commands: { CHECK: cmdCheck },
    kernel: FfiNetlink,
    sets: FfiNftSets,
    tc: (libc) => new NetlinkTc({ libc }),
  }, stdin);
}
