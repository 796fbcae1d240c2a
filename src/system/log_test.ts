import assert from "node:assert/strict";
import { createLogger, memoryLogger } from "./log.ts";

Deno.test("log: level filter, JSON lines with base fields, a throwing sink is harmless", () => {
  const lines: string[] = [];
  const log = createLogger({
    sink: (l) => lines.push(l),
    level: "info",
    now: () => 0,
    base: { c: 1 },
  });
  log.debug("hidden");
  log.info("shown", { x: 2, e: new Error("boom") });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith("\n"));
  assert.deepEqual(JSON.parse(lines[0]!), {
    ts: "1970-01-01T00:00:00.000Z",
    level: "info",
    msg: "shown",
    c: 1,
    x: 2,
    e: "boom",
  });
  const broken = createLogger({
    sink: () => {
      throw new Error("disk full");
    },
  });
  broken.error("still fine");
});

Deno.test("log: text lines quote only values that need it; default level is warn", () => {
  const lines: string[] = [];
  const log = createLogger({ sink: (l) => lines.push(l), format: "text", now: () => 0 });
  log.info("dropped");
  log.warn("route failed", { dst: "10.0.1.0/24", why: "no route", n: 3 });
  assert.deepEqual(lines, [
    '1970-01-01T00:00:00.000Z WARN  route failed dst=10.0.1.0/24 why="no route" n=3\n',
  ]);
});

Deno.test("log: the memory logger keeps every level with its text line", () => {
  const log = memoryLogger();
  log.debug("route added", { dst: "10.0.1.0/24" });
  assert.deepEqual(log.lines, [{
    level: "debug",
    msg: "route added",
    fields: { dst: "10.0.1.0/24" },
    text: "DEBUG route added dst=10.0.1.0/24",
  }]);
});
