/**
 * The plugin program of ADD: the bridge, the veth into the pod, IPAM, addresses and routes.
 * main.ts imports exactly one program per call; in the bundle each is one
 * self-contained file (src/build/bundle.ts), so a call loads and compiles
 * only its own command's code.
 * @module
 */
import { cmdAdd } from "../commands/add.ts";
import { FfiNetlink } from "../../system/netlink/ffi_netlink.ts";
import { NetlinkConntrack } from "../../system/conntrack_netlink.ts";
import { NetlinkTc } from "../../system/netlink/tc_handle.ts";
import { FfiNftSets } from "../../system/nftables/ffi_sets.ts";
import { run } from "../run.ts";
import type { Tracer } from "../trace.ts";

/** Runs the call; returns its exit code. */
export function start(trace: Tracer, stdin?: string): Promise<number> {
  return run(trace, {
    commands: { ADD: cmdAdd },
    kernel: FfiNetlink,
    sets: FfiNftSets,
    tc: (libc) => new NetlinkTc({ libc }),
    conntrack: (libc) => new NetlinkConntrack({ libc }),
  }, stdin);
}
