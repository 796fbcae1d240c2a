/**
 * A tiny leveled logger writing one JSON line per entry to a sink. Plugin
 * logs must never reach stdout (the runtime parses stdout as the result),
 * so the sinks are stderr or a log file, chosen at the edge in main.ts.
 * @module
 */
import type { LogLevel } from "./netconf.ts";

/** Structured fields of a log entry. */
export type LogFields = Record<string, unknown>;

/** Where the plugin logs. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Receives one finished line (with "\n"). */
  sink: (line: string) => void;
  level?: LogLevel;
  /** Milliseconds since the epoch, for the timestamp. */
  now?: () => number;
  /** Fields stamped on every entry (container id, command). */
  base?: LogFields;
}

/** A logger dropping entries below `level` (default "warn": quiet on success). */
export function createLogger(opts: LoggerOptions): Logger {
  const min = RANK[opts.level ?? "warn"];
  const now = opts.now ?? Date.now;
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < min) return;
    const entry = { ts: new Date(now()).toISOString(), level, msg, ...opts.base, ...fields };
    try {
      opts.sink(JSON.stringify(entry) + "\n");
    } catch {
      // A broken log sink must never fail a CNI command.
    }
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

/** A logger that keeps entries in memory, for tests asserting on logs. */
export function memoryLogger(): Logger & { lines: { level: LogLevel; msg: string }[] } {
  const lines: { level: LogLevel; msg: string }[] = [];
  const keep = (level: LogLevel) => (msg: string) => {
    lines.push({ level, msg });
  };
  return {
    lines,
    debug: keep("debug"),
    info: keep("info"),
    warn: keep("warn"),
    error: keep("error"),
  };
}
