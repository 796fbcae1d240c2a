/**
 * Connection tracking entries behind a small interface: the plugin flushes
 * the UDP flows of a hostPort when a mapping comes or goes, so a client that
 * keeps sending (DNS, syslog, game traffic) reaches the new pod at once
 * instead of riding a stale entry until it times out. The plugin uses
 * NetlinkConntrack (conntrack_netlink.ts: ctnetlink in-process); ExecConntrack
 * spawns the `conntrack` CLI with an argv array (kept for tools and tests).
 * @module
 */
import type { Exec } from "./exec.ts";

/** The flows to delete: protocol and original destination port, optionally its address. */
export interface FlowFilter {
  family: 4 | 6;
  protocol: "udp" | "tcp" | "sctp";
  /** Original (pre-DNAT) destination port: the hostPort. */
  origDstPort: number;
  /** Original destination address: a mapping's hostIP; every address when absent. */
  origDst?: string;
}

/** Deletes conntrack entries. */
export interface Conntrack {
  /** Deletes every flow matching `f`; none matching is not an error. */
  deleteFlows(f: FlowFilter): Promise<void>;
}

/** The argv deleting the flows of `f` (pure, for tests). */
export function conntrackDeleteArgv(f: FlowFilter): string[] {
  const argv = ["conntrack", "-D", "-f", f.family === 4 ? "ipv4" : "ipv6", "-p", f.protocol];
  argv.push("--orig-port-dst", String(f.origDstPort));
  if (f.origDst !== undefined) argv.push("--orig-dst", f.origDst);
  return argv;
}

/** The real conntrack CLI in the caller's network namespace. */
export class ExecConntrack implements Conntrack {
  readonly #exec: Exec;
  constructor(exec: Exec) {
    this.#exec = exec;
  }

  async deleteFlows(f: FlowFilter): Promise<void> {
    const r = await this.#exec.run(conntrackDeleteArgv(f), { timeoutMs: 10_000 });
    // Exit 1 with "0 flow entries have been deleted" is the normal "nothing to do".
    if (r.code === 0 || /0 flow entries/.test(r.stderr)) return;
    throw new Error(`Cannot delete conntrack flows: exit ${r.code}: ${r.stderr.trim()}`);
  }
}

/** One flow the fake holds. */
export interface FakeFlow {
  family: 4 | 6;
  protocol: string;
  origDst: string;
  origDstPort: number;
}

/** A stateful conntrack table for unit tests, with fault injection. */
export class FakeConntrack implements Conntrack {
  readonly flows: FakeFlow[] = [];
  readonly calls: FlowFilter[] = [];
  #fail: Error | undefined;

  /** Makes the next call throw (once). */
  failNext(err: Error = new Error("Cannot delete conntrack flows: injected")): void {
    this.#fail = err;
  }

  deleteFlows(f: FlowFilter): Promise<void> {
    this.calls.push({ ...f });
    if (this.#fail) {
      const e = this.#fail;
      this.#fail = undefined;
      return Promise.reject(e);
    }
    for (let i = this.flows.length - 1; i >= 0; i--) {
      const x = this.flows[i]!;
      if (
        x.family === f.family && x.protocol === f.protocol && x.origDstPort === f.origDstPort &&
        (f.origDst === undefined || x.origDst === f.origDst)
      ) this.flows.splice(i, 1);
    }
    return Promise.resolve();
  }
}
