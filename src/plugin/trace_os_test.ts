import assert from "node:assert/strict";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { TEMP_DIR, TEMP_ROOT } from "../system/os_testing.ts";
import { FakeNetlink } from "../system/netlink/fake_netlink.ts";
import { NO_TRACE, openTracer, type Span, tracedFs, tracedNetlink } from "./trace.ts";

interface Line {
  cmd: string;
  origin: number;
  moduleStart: number;
  end: number;
  spans: Span[];
}

async function lines(file: string): Promise<Line[]> {
  const text = await Deno.readTextFile(file);
  return text.trim().split("\n").map((l) => JSON.parse(l) as Line);
}

Deno.test("no file: the no-op tracer runs the step and records nothing", TEMP_DIR, () => {
  assert.equal(openTracer(undefined), NO_TRACE);
  assert.equal(openTracer(""), NO_TRACE);
  assert.equal(NO_TRACE.span("x", () => 7), 7);
});

Deno.test(
  "spans of sync, async and failing steps land in one appended line per call",
  TEMP_DIR,
  async () => {
    const file = await Deno.makeTempFile({ dir: TEMP_ROOT });
    try {
      for (const cmd of ["ADD", "DEL"]) {
        const t = openTracer(file);
        assert.equal(t.span("outer", () => t.span("inner", () => 1)), 1);
        assert.equal(
          await t.span("async", () => Promise.resolve().then(() => t.span("in", () => 2))),
          2,
        );
        assert.throws(() => t.span("fails", () => assert.fail("boom")));
        t.flush({ cmd });
      }
      const got = await lines(file);
      assert.deepEqual(got.map((l) => l.cmd), ["ADD", "DEL"]);
      const names = got[0]!.spans.map(([n, , , d]) => `${n}@${d}`);
      assert.deepEqual(names, ["inner@1", "outer@0", "in@1", "async@0", "fails@0"]);
      for (const [, start, end] of got[0]!.spans) assert.ok(end >= start);
      assert.ok(got[0]!.origin > 1e12 && got[0]!.end >= got[0]!.moduleStart);
    } finally {
      await Deno.remove(file);
    }
  },
);

Deno.test(
  "traced netlink and fs keep their behaviour and name each step",
  TEMP_DIR,
  async () => {
    const file = await Deno.makeTempFile({ dir: TEMP_ROOT });
    try {
      const t = openTracer(file);
      const nl = tracedNetlink(new FakeNetlink(), t);
      const h = nl.open();
      const br = h.addBridge({ name: "br0" });
      assert.equal(h.getLink("br0")?.index, br.index);
      h.close();
      const fake = new FakeFileSystem();
      await fake.mkdirp("/x");
      const fs = tracedFs(fake, t);
      const unlock = await fs.lock("/x/lock");
      assert.equal(await fs.createExclusive("/x/a", "1"), true);
      await unlock();
      assert.equal(await fs.readText("/x/a"), "1");
      t.flush({ cmd: "ADD" });
      const names = (await lines(file))[0]!.spans.map(([n]) => n);
      assert.deepEqual(names, [
        "netlink: open node socket",
        "netlink: addBridge",
        "netlink: getLink",
        "netlink: close",
        "ipam: lock wait",
        "fs: createExclusive",
        "ipam: lock held (read, allocate, write)",
        "fs: readText",
      ]);
    } finally {
      await Deno.remove(file);
    }
  },
);
