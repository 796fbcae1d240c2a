import assert from "node:assert/strict";
import { CniCode, CniError } from "../../errors.ts";
import { FakeConntrack } from "../../system/conntrack.ts";
import { memoryLogger } from "../../system/log.ts";
import { EEXIST, ENOENT } from "../../system/nftables/mod.ts";
import { addOp, keyBytes, setRef } from "./elements.ts";
import { checkPorts, ensurePorts, gcPorts, removePorts, udpFlows } from "./ports.ts";
import { type PodPorts, PORT_SETS, PORTS_TABLE } from "./render.ts";
import { FakePortsKernel } from "./testing.ts";

function deps() {
  const kernel = new FakePortsKernel();
  return {
    kernel,
    sets: kernel.sets,
    nft: kernel,
    conntrack: new FakeConntrack(),
    log: memoryLogger(),
  };
}

const T = "inet hostgate";
const A: PodPorts = {
  network: "n",
  hostVeth: "hgaaaaaaaaaaaa",
  podIps: ["10.22.0.2/24"],
  mappings: [
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
    { hostPort: 5353, containerPort: 53, protocol: "udp" },
  ],
};
const B: PodPorts = { ...A, hostVeth: "hgbbbbbbbbbbbb", podIps: ["10.22.0.3/24"] };
const applies = (d: ReturnType<typeof deps>) =>
  d.kernel.store.calls.filter((c) => c.method === "apply").length;

Deno.test("ports: the first ADD finds no table, defines it once, retries; the next ADD spawns nothing", async () => {
  const d = deps();
  d.conntrack.flows.push(
    { family: 4, protocol: "udp", origDst: "10.0.0.1", origDstPort: 5353 },
    { family: 4, protocol: "udp", origDst: "10.0.0.1", origDstPort: 9999 },
  );
  await ensurePorts(d, A);
  assert.equal(d.kernel.payloads.length, 1, "one nft -f: the definition with the pod's subnet");
  assert.deepEqual(d.kernel.prefixes(4), ["127.0.0.0/8", "10.22.0.0/24"]);
  assert.deepEqual(
    [...d.kernel.elements(T, PORT_SETS.any4)],
    [["tcp . 8080", "10.22.0.2 . 80"], ["udp . 5353", "10.22.0.2 . 53"]],
  );
  assert.deepEqual([...d.kernel.elements(T, PORT_SETS.snat4).keys()], [
    "10.22.0.2 . tcp . 80",
    "10.22.0.2 . udp . 53",
  ]);
  assert.equal(d.kernel.rules("hostport-dnat").length, 4);
  assert.equal(d.kernel.rules("hostport-postrouting").length, 2);
  assert.deepEqual(d.conntrack.flows.map((f) => f.origDstPort), [9999]);
  // B: same subnet, so no process at all: one in-process batch.
  const before = applies(d);
  await ensurePorts(d, {
    ...B,
    mappings: [{ hostPort: 9090, containerPort: 80, protocol: "tcp" }],
  });
  assert.equal(d.kernel.payloads.length, 1);
  assert.equal(applies(d) - before, 1);
  // A pod of another subnet writes that subnet's prefix only.
  await ensurePorts(d, {
    ...B,
    hostVeth: "hgcccccccccccc",
    podIps: ["10.23.0.3/24"],
    mappings: [{ hostPort: 7070, containerPort: 80, protocol: "tcp" }],
  });
  assert.equal(d.kernel.payloads.length, 2);
  assert.match(
    d.kernel.payloads[1]!,
    /^add element inet hostgate hostport-snatsrc4 \{ 10\.23\.0\.0\/24 /,
  );
  assert.deepEqual(d.kernel.prefixes(4), ["127.0.0.0/8", "10.22.0.0/24", "10.23.0.0/24"]);
  // The table deleted behind the plugin's back (a set missing): defined again, elements kept.
  d.kernel.store.deleteTable("inet", "hostgate");
  await ensurePorts(d, A);
  assert.equal(d.kernel.payloads.length, 3);
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).size, 2);
});

Deno.test("ports: ENOENT from the batch (a set gone, prefixes present) defines and retries once", async () => {
  const d = deps();
  await ensurePorts(d, A);
  await removePorts(d, A);
  d.kernel.failNextApply(ENOENT);
  await ensurePorts(d, A);
  assert.equal(d.kernel.payloads.length, 2, "the definition ran again");
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).size, 2);
  // ENOENT right after the definition is an error, not a loop.
  const e = deps();
  e.kernel.failNextApply(ENOENT);
  e.kernel.failNextApply(ENOENT);
  const err = await ensurePorts(e, A).catch((x) => x);
  assert.ok(err instanceof CniError);
  assert.equal(err.code, CniCode.Internal);
  assert.match(err.message, /Cannot add hostPort rules: .*ENOENT/);
  assert.equal(e.kernel.elements(T, PORT_SETS.any4).size, 0);
});

Deno.test("ports: the same hostPort for a second pod is 104 naming the holder; the first stays", async () => {
  const d = deps();
  await ensurePorts(d, A);
  const err = await ensurePorts(d, B).catch((e) => e);
  assert.ok(err instanceof CniError);
  assert.equal(err.code, CniCode.PortInUse);
  assert.match(err.message, /tcp\/8080 on every address is already mapped to 10\.22\.0\.2 \. 80/);
  assert.match(err.message, /hgaaaaaaaaaaaa of network n/);
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).get("tcp . 8080"), "10.22.0.2 . 80");
  // Nothing of B was written, not even its masquerade elements.
  assert.ok(
    ![...d.kernel.elements(T, PORT_SETS.snat4).keys()].some((k) => k.startsWith("10.22.0.3")),
  );
  await checkPorts(d, A);
  // A specific host address does not clash with another one.
  await ensurePorts(d, {
    ...B,
    mappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "10.99.0.1" }],
  });
});

Deno.test("ports: a repeated ADD of the same pod succeeds; a holder gone meanwhile is still 104", async () => {
  const d = deps();
  await ensurePorts(d, A);
  await ensurePorts(d, A);
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).size, 2);
  // EEXIST but the key is free when looked up (the holder left): a generic 104.
  const e = deps();
  await ensurePorts(e, B);
  await removePorts(e, B);
  e.kernel.failNextApply(EEXIST);
  const err = await ensurePorts(e, A).catch((x) => x);
  assert.equal(err.code, CniCode.PortInUse);
  assert.match(err.message, /already in use by another pod/);
});

Deno.test("ports: a batch refused half way leaves nothing of the pod", async () => {
  const d = deps();
  await ensurePorts(d, {
    ...B,
    mappings: [{ hostPort: 5353, containerPort: 53, protocol: "udp" }],
  });
  const before = d.kernel.store.elements(setRef(PORT_SETS.snat4))!.length;
  // A's first element (tcp/8080) is free, its second (udp/5353) is B's: the batch fails at op 2.
  const err = await ensurePorts(d, A).catch((e) => e);
  assert.equal(err.code, CniCode.PortInUse);
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).get("tcp . 8080"), undefined);
  assert.equal(d.kernel.store.elements(setRef(PORT_SETS.snat4))!.length, before);
  // An I/O fault mid-batch: same.
  d.kernel.failNextApply(5);
  await assert.rejects(
    () => ensurePorts(d, { ...A, mappings: [A.mappings[0]!] }),
    /Cannot add hostPort rules/,
  );
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).get("tcp . 8080"), undefined);
});

Deno.test("ports: a failing definition fails ADD with nothing written", async () => {
  const d = deps();
  d.kernel.failNextDefinition();
  await assert.rejects(() => ensurePorts(d, A), /Cannot add hostPort rules: .*injected/);
  assert.equal(d.kernel.hasTable(), false);
});

Deno.test("ports: DEL with no table creates nothing and spawns nothing", async () => {
  const d = deps();
  await removePorts(d, A);
  await removePorts(d, A);
  assert.equal(d.kernel.hasTable(), false);
  assert.equal(d.kernel.payloads.length, 0);
  assert.equal(await gcPorts(d, { network: "n", keep: new Set() }), 0);
  assert.equal(d.kernel.hasTable(), false);
  const err = await checkPorts(d, A).catch((e) => e);
  assert.equal(err.code, CniCode.CheckFailed);
  assert.equal(d.kernel.hasTable(), false);
});

Deno.test("ports: DEL is repeatable and never removes another pod's mapping", async () => {
  const d = deps();
  await ensurePorts(d, A);
  await removePorts(d, A);
  await removePorts(d, A);
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).size, 0);
  assert.equal(d.kernel.elements(T, PORT_SETS.snat4).size, 0);
  assert.deepEqual(d.kernel.prefixes(4), ["127.0.0.0/8", "10.22.0.0/24"], "subnets stay");
  assert.equal(d.kernel.payloads.length, 1);
  await ensurePorts(d, B);
  // A stale record of A naming B's keys: DEL succeeds, B keeps its ports.
  await removePorts(d, A);
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).get("tcp . 8080"), "10.22.0.3 . 80");
  assert.equal(d.kernel.elements(T, PORT_SETS.snat4).size, 2);
  assert.ok(d.log.lines.some((l) => /held by another pod left alone/.test(l.msg)));
  await checkPorts(d, B);
});

Deno.test("ports: DEL removes what is left when the table lost a set", async () => {
  const d = deps();
  await ensurePorts(d, A);
  // A set missing makes the batch fail with ENOENT; the rest goes element by element.
  const ref = setRef(PORT_SETS.snat4);
  const store = d.kernel.store;
  store.deleteTable("inet", "hostgate");
  store.addSet(setRef(PORT_SETS.any4), { keyLen: 8, dataLen: 8 });
  await store.apply([
    addOp({
      set: PORT_SETS.any4,
      key: ["tcp", 8080],
      data: ["10.22.0.2", 80],
      comment: "hostgate n hgaaaaaaaaaaaa",
    }, { exclusive: true }),
  ]);
  await removePorts(d, A);
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).size, 0);
  assert.equal(store.elements(ref), undefined, "the missing set was not created");
});

Deno.test("ports: DEL that the kernel refuses is an error (the record stays for a retry)", async () => {
  const d = deps();
  await ensurePorts(d, A);
  d.kernel.failNextApply(1);
  await assert.rejects(() => removePorts(d, A), /Cannot remove hostPort rules/);
  assert.equal(d.kernel.elements(T, PORT_SETS.any4).size, 2);
});

Deno.test("ports: CHECK finds a missing, re-pointed or unmasqueraded mapping (103)", async () => {
  const d = deps();
  await ensurePorts(d, A);
  await checkPorts(d, A);
  const store = d.kernel.store;
  const any4 = setRef(PORT_SETS.any4);
  await store.apply([{
    op: "delete",
    ...any4,
    key: keyBytes({ set: PORT_SETS.any4, key: ["tcp", 8080] }),
  }]);
  await store.apply([
    addOp({ set: PORT_SETS.any4, key: ["tcp", 8080], data: ["10.22.0.9", 80], comment: "x" }, {
      exclusive: false,
    }),
  ]);
  let err = await checkPorts(d, A).catch((e) => e);
  assert.equal(err.code, CniCode.CheckFailed);
  assert.match(err.message, /tcp\/8080 on every address maps to 10\.22\.0\.9 \. 80/);
  await ensurePorts(d, A).catch(() => {});
  const snat = setRef(PORT_SETS.snat4);
  await store.apply([
    {
      op: "delete",
      ...snat,
      key: keyBytes({ set: PORT_SETS.snat4, key: ["10.22.0.2", "udp", 53] }),
    },
  ]);
  err = await checkPorts(d, { ...A, mappings: [A.mappings[1]!] }).catch((e) => e);
  assert.match(err.message, /masquerade entry 10\.22\.0\.2 \. udp \. 53 is missing/);
  d.kernel.deleteTable(T);
  err = await checkPorts(d, A).catch((e) => e);
  assert.equal(err.code, CniCode.CheckFailed);
  assert.match(err.message, /tcp\/8080 on every address is missing/);
});

Deno.test("ports: GC removes elements of pods not kept, also without a record", async () => {
  const d = deps();
  await ensurePorts(d, A);
  await ensurePorts(d, {
    ...B,
    mappings: [{ hostPort: 9090, containerPort: 80, protocol: "tcp" }],
  });
  await ensurePorts(d, {
    ...B,
    network: "other",
    hostVeth: "hgcccccccccccc",
    podIps: ["10.22.0.9/24"],
    mappings: [{ hostPort: 7070, containerPort: 80, protocol: "tcp" }],
  });
  const n = await gcPorts(d, { network: "n", keep: new Set(["hgbbbbbbbbbbbb"]) });
  assert.equal(n, 4);
  assert.deepEqual([...d.kernel.elements(T, PORT_SETS.any4).keys()], ["tcp . 9090", "tcp . 7070"]);
  assert.deepEqual([...d.kernel.elements(T, PORT_SETS.snat4).keys()], [
    "10.22.0.3 . tcp . 80",
    "10.22.0.9 . tcp . 80",
  ]);
  assert.equal(await gcPorts(d, { network: "n", keep: new Set(["hgbbbbbbbbbbbb"]) }), 0);
  await ensurePorts(d, A);
  d.kernel.failNextApply(1);
  await assert.rejects(() => gcPorts(d, { network: "n", keep: new Set() }));
});

Deno.test("ports: the definition derives masquerade elements of mappings already in the maps", async () => {
  const d = deps();
  // A table an older version filled: the maps have A's element, the new sets are missing.
  const store = d.kernel.store;
  store.addSet(setRef(PORT_SETS.any4), { keyLen: 8, dataLen: 8 });
  await store.apply([
    addOp({
      set: PORT_SETS.any4,
      key: ["tcp", 8080],
      data: ["10.22.0.2", 80],
      comment: "hostgate n hgaaaaaaaaaaaa",
    }, { exclusive: true }),
  ]);
  await ensurePorts(d, {
    ...B,
    mappings: [{ hostPort: 9090, containerPort: 90, protocol: "tcp" }],
  });
  assert.deepEqual([...d.kernel.elements(T, PORT_SETS.snat4).keys()], [
    "10.22.0.2 . tcp . 80",
    "10.22.0.3 . tcp . 90",
  ]);
  assert.equal(PORTS_TABLE.name, "hostgate");
});

Deno.test("ports: a conntrack fault only warns", async () => {
  const d = deps();
  d.conntrack.failNext();
  await ensurePorts(d, A);
  assert.ok(d.log.lines.some((l) => /Cannot flush UDP conntrack entries/.test(l.msg)));
});

Deno.test("ports: UDP flows per family and host address", () => {
  assert.deepEqual(
    udpFlows([
      { hostPort: 53, containerPort: 53, protocol: "udp" },
      { hostPort: 54, containerPort: 53, protocol: "udp", hostIP: "fd00::1" },
      { hostPort: 80, containerPort: 80, protocol: "tcp" },
    ], ["10.0.0.2/24", "fd00::2/64"]),
    [
      { family: 4, protocol: "udp", origDstPort: 53 },
      { family: 6, protocol: "udp", origDstPort: 53 },
      { family: 6, protocol: "udp", origDstPort: 54, origDst: "fd00::1" },
    ],
  );
});
