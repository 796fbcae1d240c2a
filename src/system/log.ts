/**
 * The one logger of both programs: leveled, structured, one line per entry,
 * as JSON (the plugin's default: a runtime's log collector parses it) or as
 * text (`ts LEVEL msg key=value`, for a person reading the agent's log).
 *
 * Logs never reach stdout: the plugin's stdout is the CNI result and the
 * agent's is command output such as `status`. The sink is chosen at the edge
 * (stderr by default, or a log file the plugin opens), and a sink that throws
 * is ignored, so a full disk never fails a CNI command or a reconcile pass.
 * An instance is passed to whoever logs; there is no global logger.
 * @module
 */

/** Severity, lowest first. */
export type Level = "debug" | "info" | "warn" | "error";

const RANK: Readonly<Record<Level, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Structured fields of an entry. */
export type Fields = Record<string, unknown>;

/** Where a program logs. */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Entries below it are dropped; default "warn" (quiet when all is well). */
  level?: Level;
  /** "json" (default) or "text". */
  format?: "json" | "text";
  /** Receives each finished line, "\n" included; default: stderr. */
  sink?: (line: string) => void;
  /** Milliseconds since the epoch, for the timestamp; default `Date.now`. */
  now?: () => number;
  /** Fields stamped on every entry (a container id, the command). */
  base?: Fields;
}

/** The default sink: synchronous writes to stderr, so lines are not lost at exit. */
function stderrSink(): (line: string) => void {
  const enc = new TextEncoder();
  return (line) => {
    Deno.stderr.writeSync(enc.encode(line));
  };
}

/** An error as its message; anything else unchanged. */
function plain(v: unknown): unknown {
  return v instanceof Error ? v.message : v;
}

/** A text-format value: bare when it needs no quoting, JSON otherwise. */
function textValue(v: unknown): string {
  const p = plain(v);
  if (typeof p === "string") return /[\s"=]/.test(p) || p === "" ? JSON.stringify(p) : p;
  return JSON.stringify(p);
}

/** One entry as a line (without "\n") in `format`. */
export function formatEntry(
  format: "json" | "text",
  entry: { ts: string; level: Level; msg: string; fields: Fields },
): string {
  const { ts, level, msg, fields } = entry;
  if (format === "json") {
    const out: Fields = { ts, level, msg };
    for (const [k, v] of Object.entries(fields)) out[k] = plain(v);
    return JSON.stringify(out);
  }
  const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${textValue(v)}`).join("");
  return `${ts} ${level.toUpperCase().padEnd(5)} ${msg}${extra}`;
}

/** A logger writing entries at or above `level` to the sink. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = RANK[opts.level ?? "warn"];
  const format = opts.format ?? "json";
  const sink = opts.sink ?? stderrSink();
  const now = opts.now ?? Date.now;
  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (RANK[level] < min) return;
    const ts = new Date(now()).toISOString();
    try {
      sink(formatEntry(format, { ts, level, msg, fields: { ...opts.base, ...fields } }) + "\n");
    } catch {
      // A broken log sink must never fail the work being logged.
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** An entry kept by `memoryLogger`: the parts, and the text line a person would read. */
export interface LogEntry {
  level: Level;
  msg: string;
  fields: Fields;
  /** The text-format line without timestamp: "INFO  route added dst=10.0.1.0/24". */
  text: string;
}

/** A logger keeping every entry (all levels) in memory, for tests asserting on logs. */
export function memoryLogger(): Logger & { lines: LogEntry[] } {
  const lines: LogEntry[] = [];
  const keep = (level: Level) => (msg: string, fields: Fields = {}) => {
    const text = formatEntry("text", { ts: "", level, msg, fields }).trimStart();
    lines.push({ level, msg, fields, text });
  };
  return {
    lines,
    debug: keep("debug"),
    info: keep("info"),
    warn: keep("warn"),
    error: keep("error"),
  };
}
