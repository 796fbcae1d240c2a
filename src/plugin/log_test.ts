import assert from "node:assert/strict";
import { createLogger } from "./log.ts";

Deno.test("log: level filter, JSON lines, a throwing sink is harmless", () => {
  const lines: string[] = [];
  const log = createLogger({
    sink: (l) => lines.push(l),
    level: "info",
    now: () => 0,
    base: { c: 1 },
  });
  log.debug("hidden");
  log.info("shown", { x: 2 });
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]!), {
    ts: "1970-01-01T00:00:00.000Z",
    level: "info",
    msg: "shown",
    c: 1,
    x: 2,
  });
  assert.ok(lines[0]!.endsWith("\n"));
  const broken = createLogger({
    sink: () => {
      throw new Error("disk full");
    },
  });
  broken.error("still fine");
});
