/**
 * Process spawning behind a small interface. Only argv arrays, never a shell
 * string built from input.
 * @module
 */

/** What a finished process left. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one spawn. */
export interface ExecOptions {
  /** Environment; replaces the inherited one when `clearEnv` is true. */
  env?: Record<string, string>;
  clearEnv?: boolean;
  stdin?: string;
  /** Kill the process after this many milliseconds. */
  timeoutMs?: number;
  /** Working directory. */
  cwd?: string;
}

/** Runs programs. */
export interface Exec {
  run(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
}

/** The real process spawner. */
export class RealExec implements Exec {
  async run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [cmd, ...args] = argv;
    if (!cmd) throw new Error("Cannot run a program: empty argv");
    const child = new Deno.Command(cmd, {
      args,
      env: opts.env,
      clearEnv: opts.clearEnv,
      cwd: opts.cwd,
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    try {
      if (opts.stdin !== undefined) {
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode(opts.stdin));
        await w.close();
      }
      const out = await child.output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}
