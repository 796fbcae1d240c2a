import assert from "node:assert/strict";
import { deleteIgnoringMissing, MAX_DELETE_BATCH } from "./delete.ts";
import { FakeNftSets } from "./fake_sets.ts";
import { encodeKey } from "./key.ts";
import { EEXIST, ENOENT, NftSetsError, type SetElementOp } from "./types.ts";

const G = { family: "inet", table: "t", set: "guarded" } as const;
const A = { family: "inet", table: "t", set: "addr4" } as const;
const ifk = (n: string) => encodeKey(["ifname"], [n]);
const a4 = (n: string, ip: string) => encodeKey(["ifname", "ipv4_addr"], [n, ip]);

function world(): FakeNftSets {
  const f = new FakeNftSets();
  f.addSet(G, { keyLen: 16 });
  f.addSet(A, { keyLen: 20 });
  return f;
}

async function rejectsErrno(p: Promise<unknown>, errno: number, index?: number) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof NftSetsError);
    assert.equal(e.errno, errno);
    if (index !== undefined) assert.equal(e.index, index);
    return true;
  });
}

Deno.test("fake sets: add, list, get, re-add is a no-op, exclusive re-add is EEXIST", async () => {
  const f = world();
  const add: SetElementOp = { op: "add", ...G, key: ifk("hg1"), comment: "c1" };
  await f.apply([add, { op: "add", ...A, key: a4("hg1", "10.0.0.1") }]);
  await f.apply([add]);
  assert.deepEqual(await f.list(G), [{ key: ifk("hg1"), comment: "c1" }]);
  assert.deepEqual(await f.get(G, ifk("hg1")), { key: ifk("hg1"), comment: "c1" });
  assert.equal(await f.get(G, ifk("hg2")), undefined);
  await rejectsErrno(f.apply([{ ...add, exclusive: true }]), EEXIST, 0);
  await rejectsErrno(f.get({ ...G, set: "x" }, ifk("hg1")), ENOENT);
  await rejectsErrno(f.list({ ...G, table: "x" }), ENOENT);
});

Deno.test("fake sets: a refused op aborts the whole batch", async () => {
  const f = world();
  await rejectsErrno(
    f.apply([
      { op: "add", ...G, key: ifk("hg1") },
      { op: "delete", ...A, key: a4("hg1", "10.0.0.9") },
    ]),
    ENOENT,
    1,
  );
  assert.deepEqual(f.elements(G), []);
  await rejectsErrno(f.apply([{ op: "add", ...A, key: ifk("hg1") }]), 22, 0);
  await rejectsErrno(f.apply([{ op: "add", ...G, set: "nope", key: ifk("hg1") }]), ENOENT);
});

Deno.test("fake sets: injected faults fail the call and change nothing", async () => {
  const f = world();
  f.failNext(105, { atOp: 1 });
  await rejectsErrno(
    f.apply([{ op: "add", ...G, key: ifk("hg1") }, { op: "add", ...G, key: ifk("hg2") }]),
    105,
    1,
  );
  assert.deepEqual(f.elements(G), []);
  f.hook = (c) => (c.method === "list" ? 1 : undefined);
  await rejectsErrno(f.list(G), 1);
  assert.equal(f.calls.length, 2);
});

Deno.test("deleteIgnoringMissing: one batch when all exist; per op when one is gone", async () => {
  const f = world();
  await f.apply([{ op: "add", ...G, key: ifk("hg1") }, { op: "add", ...G, key: ifk("hg2") }]);
  const del = (n: string): SetElementOp => ({ op: "delete", ...G, key: ifk(n) });
  await deleteIgnoringMissing(f, [del("hg1")]);
  assert.equal(f.calls.length, 2);
  await deleteIgnoringMissing(f, [del("hg1"), del("hg2"), { ...del("x"), table: "gone" }]);
  assert.deepEqual(f.elements(G), []);
  assert.equal(f.calls.length, 2 + 1 + 3);
  await deleteIgnoringMissing(f, []);
  f.failNext(1, { method: "apply" });
  await rejectsErrno(deleteIgnoringMissing(f, [del("hg1")]), 1);
});

Deno.test("fake sets: a definition payload creates tables and sets with their lengths", async () => {
  const f = new FakeNftSets();
  f.applyDefinition(
    'add table inet t { comment "x"; }\n' +
      'add set inet t guarded { type ifname; comment "g"; }\n' +
      "add set inet t nd6 { typeof iifname . @th,64,128; }\n" +
      "add map inet t ports { type inet_proto . inet_service : ipv4_addr . inet_service; }\n" +
      "add chain inet t pod\nadd rule inet t pod drop\n",
  );
  assert.equal(await f.hasTable("inet", "t"), true);
  assert.equal(await f.hasTable("arp", "t"), false);
  await f.apply([
    { op: "add", ...G, key: ifk("hg1") },
    { op: "add", ...G, set: "nd6", key: new Uint8Array(32) },
    {
      op: "add",
      ...G,
      set: "ports",
      key: encodeKey(["inet_proto", "inet_service"], [6, 80]),
      data: encodeKey(["ipv4_addr", "inet_service"], ["10.0.0.1", 8080]),
    },
  ]);
  f.applyDefinition("add set inet t guarded { type ifname; }\n");
  assert.equal(f.elements(G)!.length, 1, "a repeated definition keeps the elements");
  assert.throws(() => f.applyDefinition("add set inet t x { type foo; }"), /unknown type foo/);
});

Deno.test("deleteIgnoringMissing: a large sweep goes in slices", async () => {
  const f = world();
  const names = Array.from({ length: MAX_DELETE_BATCH + 5 }, (_, i) => `hg${i}`);
  await f.apply(names.map((n) => ({ op: "add", ...G, key: ifk(n) })));
  const before = f.calls.length;
  await deleteIgnoringMissing(f, names.map((n) => ({ op: "delete", ...G, key: ifk(n) })));
  assert.deepEqual(f.calls.slice(before).map((c) => c.ops!.length), [MAX_DELETE_BATCH, 5]);
  assert.deepEqual(f.elements(G), []);
});
