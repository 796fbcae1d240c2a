/**
 * Traffic control behind a small interface: apply a list of changes (a TBF
 * at a device's root, an ingress qdisc, a u32 match-all filter redirecting a
 * device's ingress to another device) and read back qdiscs and filters. The
 * plugin's pod bandwidth limits use it. The plugin's implementation talks
 * rtnetlink in-process (netlink/tc_handle.ts, NetlinkTc); ExecTc runs the
 * same changes as one `tc -batch -` (each command an argv-like token list,
 * never a shell string) and stays as the reference the OS test compares
 * with; a stateful fake sits beside them.
 * @module
 */
import type { Exec } from "./exec.ts";

/** One change to traffic control, named by what it makes. */
export type TcOp =
  /** A TBF at the root of `dev` (handle 1:), as `tc ... tbf rate R burst B latency L` makes it. */
  | {
    op: "tbf";
    dev: string;
    /** Bits per second (tc: `<rate>bit`; the kernel keeps rate / 8 bytes per second). */
    rateBits: number;
    /** Bytes. */
    burst: number;
    /** Queue length as time, microseconds. */
    latencyUs: number;
  }
  /** The ingress qdisc of `dev` (handle ffff:). */
  | { op: "ingress"; dev: string }
  /** A u32 match-all filter on `dev`'s ingress whose mirred action redirects to `to`. */
  | { op: "redirect"; dev: string; to: string };

/** A qdisc as `tc -j qdisc show` reports it (the fields the plugin reads). */
export interface TcQdisc {
  kind: string;
  handle: string;
  root?: boolean;
  parent?: string;
  /** tbf: rate in bytes per second and burst in bytes. */
  options?: { rate?: number; burst?: number };
}

/** A filter as `tc -j filter show` reports it, reduced to its redirect target. */
export interface TcFilter {
  kind: string;
  /** Device a mirred action redirects to. */
  redirectTo?: string;
}

/** Traffic control of one network namespace (the caller's, for the plugin). */
export interface Tc {
  /** Applies the changes in order; the first failure stops and throws a TcError. */
  apply(ops: readonly TcOp[]): Promise<void>;
  /** Qdiscs of `dev` ([] when it has none or does not exist). */
  qdiscs(dev: string): Promise<TcQdisc[]>;
  /** Filters of `dev` under the ingress qdisc that redirect somewhere. */
  ingressFilters(dev: string): Promise<TcFilter[]>;
  /** Releases what the implementation holds (a socket); idempotent. */
  close(): void;
}

/** Raised when tc fails. */
export class TcError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TcError";
  }
}

/** `latencyUs` as a tc time token ("25ms" when whole milliseconds). */
function timeToken(us: number): string {
  return us % 1000 === 0 ? `${us / 1000}ms` : `${us}us`;
}

/** The `tc` command (argv after "tc") making one change. */
export function tcArgv(op: TcOp): string[] {
  switch (op.op) {
    case "tbf":
      return [
        ..."qdisc add dev".split(" "),
        op.dev,
        ..."root handle 1: tbf rate".split(" "),
        `${op.rateBits}bit`,
        "burst",
        String(op.burst),
        "latency",
        timeToken(op.latencyUs),
      ];
    case "ingress":
      return ["qdisc", "add", "dev", op.dev, "ingress"];
    case "redirect":
      return [
        ..."filter add dev".split(" "),
        op.dev,
        ..."parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev"
          .split(" "),
        op.to,
      ];
  }
}

const SAFE_TOKEN = /^[A-Za-z0-9:._-]+$/;

/** The `tc -batch` text of `cmds`; a token that is not plain text is refused (no injection). */
export function renderBatch(cmds: readonly (readonly string[])[]): string {
  return cmds.map((c) => {
    for (const t of c) {
      if (!SAFE_TOKEN.test(t)) {
        throw new TcError(`Cannot run tc: unsafe token ${JSON.stringify(t)}`);
      }
    }
    return c.join(" ");
  }).join("\n") + "\n";
}

interface RawFilter {
  kind?: string;
  options?: { actions?: { kind?: string; to_dev?: string }[] };
}

/** tc the program in the caller's network namespace: one process per call. */
export class ExecTc implements Tc {
  readonly #exec: Exec;
  constructor(exec: Exec) {
    this.#exec = exec;
  }

  async apply(ops: readonly TcOp[]): Promise<void> {
    if (ops.length === 0) return;
    const r = await this.#exec.run(["tc", "-batch", "-"], {
      stdin: renderBatch(ops.map(tcArgv)),
      timeoutMs: 10_000,
    });
    if (r.code !== 0) throw new TcError(`Cannot run tc: exit ${r.code}: ${r.stderr.trim()}`);
  }

  async #json<T>(argv: string[]): Promise<T[]> {
    const r = await this.#exec.run(argv, { timeoutMs: 10_000 });
    if (r.code !== 0) {
      if (/Cannot find device/.test(r.stderr)) return [];
      throw new TcError(`Cannot run ${argv.join(" ")}: ${r.stderr.trim()}`);
    }
    const text = r.stdout.trim();
    return text ? JSON.parse(text) as T[] : [];
  }

  qdiscs(dev: string): Promise<TcQdisc[]> {
    return this.#json<TcQdisc>(["tc", "-j", "qdisc", "show", "dev", dev]);
  }

  async ingressFilters(dev: string): Promise<TcFilter[]> {
    const raw = await this.#json<RawFilter>(["tc", "-j", "filter", "show", "dev", dev, "ingress"]);
    const out: TcFilter[] = [];
    for (const f of raw) {
      const mirred = f.options?.actions?.find((a) => a.kind === "mirred");
      if (!mirred) continue;
      const one: TcFilter = { kind: f.kind ?? "" };
      if (mirred.to_dev) one.redirectTo = mirred.to_dev;
      out.push(one);
    }
    return out;
  }

  close(): void {}
}

/**
 * A stateful tc for unit tests: qdiscs and redirect filters per device,
 * changed as the kernel changes them (a second root or ingress qdisc is
 * refused, a filter needs the ingress qdisc), with fault injection. `exists`
 * decides whether a device exists (the netlink fake's view). `batches` holds
 * each `apply` call as the tc commands ExecTc would run for it.
 */
export class FakeTc implements Tc {
  readonly batches: string[][][] = [];
  readonly #qdiscs = new Map<string, TcQdisc[]>();
  readonly #filters = new Map<string, TcFilter[]>();
  readonly #exists: (dev: string) => boolean;
  #fail: Error | undefined;
  #failAt = 0;

  constructor(opts: { exists?: (dev: string) => boolean } = {}) {
    this.#exists = opts.exists ?? (() => true);
  }

  /**
   * Makes the next `apply` throw once: before any change by default, or
   * after its first `after` changes went in (a failure half way).
   */
  failNext(err: Error = new TcError("Cannot run tc: injected"), after = 0): void {
    this.#fail = err;
    this.#failAt = after;
  }

  apply(ops: readonly TcOp[]): Promise<void> {
    this.batches.push(ops.map(tcArgv));
    const fail = this.#fail;
    this.#fail = undefined;
    try {
      ops.forEach((op, i) => {
        if (fail && i === this.#failAt) throw fail;
        this.#one(op);
      });
      if (fail && this.#failAt >= ops.length) throw fail;
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve();
  }

  #one(op: TcOp): void {
    if (!this.#exists(op.dev)) throw new TcError(`Cannot find device "${op.dev}"`);
    const qs = this.#qdiscs.get(op.dev) ?? [];
    if (op.op === "redirect") {
      if (!qs.some((q) => q.kind === "ingress")) throw new TcError("Parent Qdisc doesn't exists.");
      if (!this.#exists(op.to)) throw new TcError(`Cannot find device "${op.to}"`);
      const fs = this.#filters.get(op.dev) ?? [];
      this.#filters.set(op.dev, [...fs, { kind: "u32", redirectTo: op.to }]);
      return;
    }
    const root = op.op === "tbf";
    if (qs.some((q) => (root ? q.root : q.kind === "ingress"))) {
      throw new TcError("Exclusivity flag on, cannot modify.");
    }
    if (op.op === "tbf") {
      const rate = Math.floor(op.rateBits / 8);
      if (rate <= 0) throw new TcError(`Cannot add tbf qdisc: rate ${op.rateBits} bit/s`);
      qs.push({ kind: "tbf", handle: "1:", root: true, options: { rate, burst: op.burst } });
    } else {
      qs.push({ kind: "ingress", handle: "ffff:", parent: "ffff:fff1" });
    }
    this.#qdiscs.set(op.dev, qs);
  }

  /** Removes `dev`'s root qdisc or its ingress qdisc (with its filters), as `tc qdisc del` does. */
  deleteQdisc(dev: string, which: "root" | "ingress"): void {
    const qs = this.#qdiscs.get(dev) ?? [];
    const i = qs.findIndex((q) => (which === "root" ? q.root : q.kind === "ingress"));
    if (i < 0) throw new TcError("Cannot delete qdisc with handle of zero.");
    qs.splice(i, 1);
    if (which === "ingress") this.#filters.delete(dev);
  }

  /** Forgets a device's qdiscs and filters, as the kernel does when the link is deleted. */
  dropDevice(dev: string): void {
    this.#qdiscs.delete(dev);
    this.#filters.delete(dev);
  }

  qdiscs(dev: string): Promise<TcQdisc[]> {
    if (!this.#exists(dev)) return Promise.resolve([]);
    return Promise.resolve((this.#qdiscs.get(dev) ?? []).map((q) => ({ ...q })));
  }

  ingressFilters(dev: string): Promise<TcFilter[]> {
    if (!this.#exists(dev)) return Promise.resolve([]);
    return Promise.resolve((this.#filters.get(dev) ?? []).map((f) => ({ ...f })));
  }

  close(): void {}
}
