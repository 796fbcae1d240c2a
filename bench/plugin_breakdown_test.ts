import assert from "node:assert/strict";
import {
  breakdownTable,
  EXIT,
  MODULE_LOAD,
  parseTrace,
  phasesOf,
  PROCESS_START,
  TOTAL,
  type TraceLine,
  UNTRACED,
} from "./plugin_breakdown.ts";
import type { TracedCall } from "./plugin_worker.ts";

const call: TracedCall = { cmd: "ADD", pid: 7, spawnAt: 1000, exitAt: 1040, code: 0 };
const line: TraceLine = {
  cmd: "ADD",
  pid: 7,
  origin: 1020,
  moduleStart: 3,
  end: 15,
  spans: [
    ["netlink: addVeth", 6, 7, 1],
    ["dispatch", 5, 12, 0],
    ["netlink: getLink", 8, 8.5, 1],
    ["netlink: getLink", 9, 9.5, 1],
  ],
};

Deno.test("phases: process start and exit on the bench's clock, repeated spans summed", () => {
  const p = phasesOf(call, line);
  assert.equal(p.get(PROCESS_START), 20);
  assert.equal(p.get(MODULE_LOAD), 3);
  assert.equal(p.get("netlink: getLink"), 1);
  assert.equal(p.get("dispatch"), 7);
  assert.equal(p.get(UNTRACED), 15 - 3 - 7);
  assert.equal(p.get(EXIT), 1040 - 1035);
  assert.equal(p.get(TOTAL), 40);
});

Deno.test("table: rows in start order, nested rows indented, failed calls left out", () => {
  const failed: TracedCall = { ...call, pid: 8, code: 1 };
  const text = breakdownTable(
    [call, failed],
    parseTrace(`${JSON.stringify(line)}\nnot json\n${JSON.stringify({ ...line, pid: 8 })}\n`),
    ["ADD", "DEL"],
  );
  const rows = text.split("\n").slice(2).map((r) => r.split("|").map((c) => c.trim()));
  assert.deepEqual(rows.map((r) => r[1]), [
    PROCESS_START,
    MODULE_LOAD,
    "dispatch",
    "netlink: addVeth",
    "netlink: getLink",
    UNTRACED,
    EXIT,
    TOTAL,
  ]);
  assert.ok(text.includes("|   netlink: addVeth"));
  assert.ok(text.includes("ADD (n=1)") && text.includes("DEL (n=0)"));
  assert.equal(rows[0]![2], "20.00");
  assert.equal(rows[0]![3], "");
});
