/**
 * An `Exec` that runs every program inside one network namespace, so
 * product code that spawns tools (nft) can be pointed at a test namespace.
 * @module
 */
import { type Exec, type ExecOptions, type ExecResult, RealExec } from "../../src/system/exec.ts";

/** Runs argv as `ip netns exec <netns> argv...`. */
export class NetnsExec implements Exec {
  readonly netns: string;
  readonly #inner: Exec;

  constructor(netns: string, inner: Exec = new RealExec()) {
    this.netns = netns;
    this.#inner = inner;
  }

  run(argv: string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.#inner.run(["ip", "netns", "exec", this.netns, ...argv], opts);
  }
}
