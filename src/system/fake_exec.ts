/**
 * A scripted `Exec` for unit tests: each script answers the calls it matches
 * (by program, argv prefix or predicate) with a fixed or computed result, or
 * throws to simulate a spawn failure. Every call is recorded with its argv and
 * options, so a test can assert the exact environment and stdin a delegated
 * plugin received. A call no script matches fails like a missing binary.
 * @module
 */
import type { Exec, ExecOptions, ExecResult } from "./exec.ts";

/** One recorded call. */
export interface ExecCall {
  argv: string[];
  opts: ExecOptions;
}

/** What a script answers: a result, or a function computing one (it may throw). */
export type ExecReply =
  | Partial<ExecResult>
  | ((call: ExecCall) => Partial<ExecResult> | Promise<Partial<ExecResult>>);

/** One scripted answer. */
export interface ExecScript {
  /**
   * Calls answered: a program (argv[0]), an argv prefix, or a predicate.
   * Every call when omitted.
   */
  match?: string | readonly string[] | ((call: ExecCall) => boolean);
  reply: ExecReply;
  /** How many calls it answers before it is used up; unlimited when omitted. */
  times?: number;
}

interface ActiveScript {
  script: ExecScript;
  used: number;
}

function matches(m: ExecScript["match"], call: ExecCall): boolean {
  if (m === undefined) return true;
  if (typeof m === "string") return call.argv[0] === m;
  if (typeof m === "function") return m(call);
  return m.every((a, i) => call.argv[i] === a);
}

/** The scripted process runner. Scripts are tried in the order they were added. */
export class FakeExec implements Exec {
  /** Every call in order. */
  readonly calls: ExecCall[] = [];
  readonly #scripts: ActiveScript[] = [];

  constructor(scripts: readonly ExecScript[] = []) {
    for (const s of scripts) this.on(s);
  }

  /** Adds a script; returns this for chaining. */
  on(script: ExecScript): this {
    this.#scripts.push({ script, used: 0 });
    return this;
  }

  /** Calls whose program is `program`. */
  callsOf(program: string): ExecCall[] {
    return this.calls.filter((c) => c.argv[0] === program);
  }

  async run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const call: ExecCall = {
      argv: [...argv],
      opts: { ...opts, env: opts.env ? { ...opts.env } : undefined },
    };
    this.calls.push(call);
    const active = this.#scripts.find((a) =>
      (a.script.times === undefined || a.used < a.script.times) && matches(a.script.match, call)
    );
    if (!active) {
      throw new Deno.errors.NotFound(`Cannot run ${argv[0] ?? "(empty argv)"}: no script matches`);
    }
    active.used++;
    const r = active.script.reply;
    const out = typeof r === "function" ? await r(call) : r;
    return { code: out.code ?? 0, stdout: out.stdout ?? "", stderr: out.stderr ?? "" };
  }
}
