/**
 * The plugin program of STATUS (and every call main.ts does not route elsewhere: VERSION with CNI_ARGS, a missing or unknown CNI_COMMAND, which dispatch answers): IPAM only, no kernel layer.
 * main.ts imports exactly one program per call; in the bundle each is one
 * self-contained file (src/build/bundle.ts), so a call loads and compiles
 * only its own command's code.
 * @module
 */
import { cmdStatus } from "../commands/status.ts";
import { run } from "../run.ts";
import type { Tracer } from "../trace.ts";

/** Runs the call; returns its exit code. */
export function start(trace: Tracer, stdin?: string): Promise<number> {
  return run(trace, { commands: { STATUS: cmdStatus } }, stdin);
}
