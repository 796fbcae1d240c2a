/**
 * The plugin program of GC: stale IPAM reservations and leftover veths.
 * main.ts imports exactly one program per call; in the bundle each is one
 * self-contained file (src/build/bundle.ts), so a call loads and compiles
 * only its own command's code.
 * @module
 */
import { cmdGc } from "../commands/gc.ts";
import { FfiNetlink } from "../../system/netlink/ffi_netlink.ts";
import { FfiNftSets } from "../../system/nftables/ffi_sets.ts";
import { run } from "../run.ts";
import type { Tracer } from "../trace.ts";

/** Runs the call; returns its exit code. */
export function start(trace: Tracer, stdin?: string): Promise<number> {
  return run(trace, { commands: { GC: cmdGc }, kernel: FfiNetlink, sets: FfiNftSets }, stdin);
}
