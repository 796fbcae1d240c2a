/**
 * The per-call cost breakdown of the plugin bench: the lines the plugin
 * appends under HOSTGATE_TRACE (src/plugin/trace.ts), joined by pid with the
 * spawn and reap times the bench took, become one column per command and
 * one row per phase, each the median over the traced calls. Pure: no I/O.
 * @module
 */
import type { TracedCall } from "./plugin_worker.ts";
import { fmt, stats, table } from "./table.ts";

/** One line of a trace file. */
export interface TraceLine {
  cmd?: string;
  pid: number;
  /** The plugin's performance.timeOrigin (epoch ms). */
  origin: number;
  /** When the plugin's first module line ran (ms since origin). */
  moduleStart: number;
  /** When the plugin finished its work, just before the line was written (ms since origin). */
  end: number;
  spans: [name: string, start: number, end: number, depth: number][];
}

/** Phases every call has, measured around the spans. */
export const PROCESS_START = "process start (exec, Deno runtime, to time origin)";
export const MODULE_LOAD = "module load + compile (origin to first line)";
export const UNTRACED = "other JS (between the spans above)";
export const EXIT = "exit (trace write, process exit, reap)";
export const TOTAL = "total wall (spawn to reaped)";

/** Phase durations of one call: name to ms (a name seen twice is summed). */
export function phasesOf(call: TracedCall, line: TraceLine): Map<string, number> {
  const out = new Map<string, number>();
  out.set(PROCESS_START, line.origin - call.spawnAt);
  out.set(MODULE_LOAD, line.moduleStart);
  let topLevel = 0;
  for (const [name, start, end, depth] of line.spans) {
    out.set(name, (out.get(name) ?? 0) + (end - start));
    if (depth === 0) topLevel += end - start;
  }
  out.set(UNTRACED, Math.max(0, line.end - line.moduleStart - topLevel));
  out.set(EXIT, call.exitAt - (line.origin + line.end));
  out.set(TOTAL, call.exitAt - call.spawnAt);
  return out;
}

/** Parses a trace file's text (one JSON object per line; bad lines skipped). */
export function parseTrace(text: string): TraceLine[] {
  const out: TraceLine[] = [];
  for (const l of text.split("\n")) {
    if (!l.trim()) continue;
    try {
      out.push(JSON.parse(l) as TraceLine);
    } catch { /* a torn line is skipped */ }
  }
  return out;
}

/** The breakdown table: one column per command in `commands`, medians in ms. */
export function breakdownTable(
  calls: TracedCall[],
  lines: TraceLine[],
  commands: readonly string[],
): string {
  const byPid = new Map(lines.map((l) => [l.pid, l]));
  const depthOf = new Map<string, number>();
  const rowOrder: string[] = [PROCESS_START, MODULE_LOAD];
  const perCmd = new Map<string, Map<string, number>[]>();
  for (const c of calls) {
    const line = byPid.get(c.pid);
    if (!line || c.code !== 0) continue;
    // Spans are written as they end (children first): rows follow their start.
    const byStart = [...line.spans].sort((a, b) => a[1] - b[1]);
    for (const [name, , , depth] of byStart) {
      if (!depthOf.has(name)) {
        depthOf.set(name, depth);
        rowOrder.push(name);
      }
    }
    const list = perCmd.get(c.cmd) ?? [];
    list.push(phasesOf(c, line));
    perCmd.set(c.cmd, list);
  }
  rowOrder.push(UNTRACED, EXIT, TOTAL);
  const n = commands.map((cmd) => perCmd.get(cmd)?.length ?? 0);
  const rows = rowOrder.map((name) => {
    const indent = "  ".repeat(depthOf.get(name) ?? 0);
    return [
      indent + name,
      ...commands.map((cmd) => {
        const samples = (perCmd.get(cmd) ?? []).map((p) => p.get(name)).filter((v) =>
          v !== undefined
        ) as number[];
        return samples.length ? fmt(stats(samples).p50, 2) : "";
      }),
    ];
  });
  return table(["phase (median ms)", ...commands.map((c, i) => `${c} (n=${n[i]})`)], rows);
}
