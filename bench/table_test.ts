import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { ratio, stats, table } from "./table.ts";

Deno.test("stats gives nearest-rank percentiles", () => {
  const s = stats([5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
  assertEquals([s.n, s.mean, s.p50, s.p95, s.max], [10, 5.5, 5, 10, 10]);
});

Deno.test("table pads columns and ratio formats", () => {
  assertEquals(table(["a", "bb"], [["xyz", "1"]]), "| a   | bb |\n| --- | -- |\n| xyz | 1  |");
  assertEquals(ratio(1, 4), "0.25x");
  assertEquals(ratio(1, 0), "-");
});
