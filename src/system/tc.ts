/**
 * Traffic control behind a small interface: apply a list of `tc` commands in
 * one process (`tc -batch -`, each command an argv-like token list, never a
 * shell string) and read back qdiscs and filters as JSON. The plugin's pod
 * bandwidth limits use it; a stateful fake sits beside it.
 * @module
 */
import type { Exec } from "./exec.ts";

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

/** Traffic control of the caller's network namespace. */
export interface Tc {
  /** Runs the commands in one transaction-less batch; the first failure stops it and throws. */
  batch(cmds: readonly (readonly string[])[]): Promise<void>;
  /** Qdiscs of `dev` ([] when it has none or does not exist). */
  qdiscs(dev: string): Promise<TcQdisc[]>;
  /** Filters of `dev` under the ingress qdisc. */
  ingressFilters(dev: string): Promise<TcFilter[]>;
}

/** Raised when tc fails. */
export class TcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TcError";
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

/** The real tc in the caller's network namespace. */
export class ExecTc implements Tc {
  readonly #exec: Exec;
  constructor(exec: Exec) {
    this.#exec = exec;
  }

  async batch(cmds: readonly (readonly string[])[]): Promise<void> {
    if (cmds.length === 0) return;
    const r = await this.#exec.run(["tc", "-batch", "-"], {
      stdin: renderBatch(cmds),
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
}

/** Bits or bytes tokens the plugin renders: "1000bit", "125000". */
function parseRate(tok: string): number {
  const m = /^(\d+)bit$/.exec(tok);
  if (!m) throw new TcError(`Cannot run tc: bad rate ${tok}`);
  return Math.floor(Number(m[1]) / 8);
}

/**
 * A stateful tc for unit tests: qdiscs and redirect filters per device,
 * changed by the command forms the plugin renders (`qdisc add|del`, `filter
 * add ... mirred egress redirect dev X`), with fault injection. `links`
 * decides whether a device exists (the netlink fake's view).
 */
export class FakeTc implements Tc {
  readonly batches: string[][][] = [];
  readonly #qdiscs = new Map<string, TcQdisc[]>();
  readonly #filters = new Map<string, TcFilter[]>();
  readonly #exists: (dev: string) => boolean;
  #fail: Error | undefined;

  constructor(opts: { exists?: (dev: string) => boolean } = {}) {
    this.#exists = opts.exists ?? (() => true);
  }

  /** Makes the next batch throw (once), changing nothing. */
  failNext(err: Error = new TcError("Cannot run tc: injected")): void {
    this.#fail = err;
  }

  batch(cmds: readonly (readonly string[])[]): Promise<void> {
    this.batches.push(cmds.map((c) => [...c]));
    if (this.#fail) {
      const e = this.#fail;
      this.#fail = undefined;
      return Promise.reject(e);
    }
    try {
      renderBatch(cmds);
      for (const c of cmds) this.#one(c);
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve();
  }

  #one(c: readonly string[]): void {
    const dev = c[c.indexOf("dev") + 1]!;
    if (!this.#exists(dev)) throw new TcError(`Cannot find device "${dev}"`);
    const qs = this.#qdiscs.get(dev) ?? [];
    if (c[0] === "qdisc" && c[1] === "add") {
      const root = c.includes("root");
      if (qs.some((q) => (root ? q.root : q.kind === "ingress"))) {
        throw new TcError("Exclusivity flag on, cannot modify.");
      }
      if (c.includes("tbf")) {
        const rate = parseRate(c[c.indexOf("rate") + 1]!);
        const burst = Number(c[c.indexOf("burst") + 1]);
        qs.push({ kind: "tbf", handle: "1:", root: true, options: { rate, burst } });
      } else if (c.includes("ingress")) {
        qs.push({ kind: "ingress", handle: "ffff:", parent: "ffff:fff1" });
      } else {
        throw new TcError(`Cannot run tc: unknown qdisc ${c.join(" ")}`);
      }
      this.#qdiscs.set(dev, qs);
    } else if (c[0] === "qdisc" && c[1] === "del") {
      const root = c.includes("root");
      const i = qs.findIndex((q) => (root ? q.root : q.kind === "ingress"));
      if (i < 0) throw new TcError("Cannot delete qdisc with handle of zero.");
      qs.splice(i, 1);
      if (!root) this.#filters.delete(dev);
    } else if (c[0] === "filter" && c[1] === "add") {
      if (!qs.some((q) => q.kind === "ingress")) throw new TcError("Parent Qdisc doesn't exists.");
      const to = c[c.lastIndexOf("dev") + 1]!;
      this.#filters.set(dev, [...(this.#filters.get(dev) ?? []), { kind: "u32", redirectTo: to }]);
    } else {
      throw new TcError(`Cannot run tc: unknown command ${c.join(" ")}`);
    }
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
}
