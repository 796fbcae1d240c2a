import assert from "node:assert/strict";
import { NodeCache, notifyListener } from "./node_cache.ts";
import type { NodeInfo } from "./types.ts";

const node = (name: string, n: number): NodeInfo => ({
  name,
  podCidrs: [`10.244.${n}.0/24`],
  addresses: [`192.168.1.${n}`],
});

Deno.test("NodeCache: changes are applied frozen; an equal entry is no change", () => {
  const c = new NodeCache();
  assert.deepEqual(c.list(), []);
  assert.equal(c.apply([["b", node("b", 2)], ["a", node("a", 1)]]), true);
  assert.deepEqual(c.list().map((n) => n.name), ["a", "b"], "sorted by name");
  assert.ok(Object.isFrozen(c.get("a")));
  assert.equal(c.apply([["a", node("a", 1)]]), false, "the same entry again");
  assert.equal(c.apply([["c", undefined]]), false, "removing what is not held");
  const before = c.list();
  before.pop();
  assert.equal(c.list().length, 2, "the list handed out is a copy");
  assert.equal(c.apply([["a", node("a", 9)], ["b", undefined]]), true);
  assert.deepEqual(c.list(), [node("a", 9)]);
  assert.equal(c.get("b"), undefined);
});

Deno.test("NodeCache: replace drops what a full read no longer has, keeps equal ones", () => {
  const c = new NodeCache();
  c.replace([node("a", 1), node("b", 2)]);
  const a = c.get("a");
  assert.equal(c.replace([node("a", 1), node("b", 2)]), false, "the same read twice");
  assert.equal(c.replace([node("a", 1), node("c", 3)]), true);
  assert.deepEqual(c.list().map((n) => n.name), ["a", "c"]);
  assert.equal(c.get("a"), a, "an unchanged entry is the same object");
});

Deno.test("notifyListener: a listener that throws is logged, never thrown", () => {
  const logs: string[] = [];
  let calls = 0;
  notifyListener(() => calls++, (m) => logs.push(m), "file");
  notifyListener(
    () => {
      throw new Error("boom");
    },
    (m) => logs.push(m),
    "file",
  );
  assert.equal(calls, 1);
  assert.deepEqual(logs, ["hostgate datastore file: onChange threw: boom"]);
});
