/**
 * A tiny structured logger writing to stderr (stdout belongs to command
 * output such as `status`). Text or JSON lines; an instance, never a global.
 * @module
 */

/** Severity, lowest first. */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Extra fields of a log line. */
export type Fields = Record<string, unknown>;

/** Where log lines go. */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  level: Level;
  format: "text" | "json";
  /** Line sink; stderr by default. */
  write?: (line: string) => void;
  now?: () => Date;
}

function fmtValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** A logger that drops lines below `level`. */
export function createLogger(opts: LoggerOptions): Logger {
  const enc = new TextEncoder();
  const write = opts.write ?? ((l: string) => Deno.stderr.writeSync(enc.encode(l + "\n")));
  const now = opts.now ?? (() => new Date());
  const emit = (level: Level, msg: string, fields: Fields = {}) => {
    if (ORDER[level] < ORDER[opts.level]) return;
    const ts = now().toISOString();
    if (opts.format === "json") {
      const plain: Fields = {};
      for (const [k, v] of Object.entries(fields)) plain[k] = v instanceof Error ? v.message : v;
      write(JSON.stringify({ ts, level, msg, ...plain }));
    } else {
      const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${fmtValue(v)}`).join("");
      write(`${ts} ${level.toUpperCase().padEnd(5)} ${msg}${extra}`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const l = createLogger({ level: "debug", format: "text", write: (x) => lines.push(x) });
  return Object.assign(l, { lines });
}
