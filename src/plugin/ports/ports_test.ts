import assert from "node:assert/strict";
import { CniCode, CniError } from "../../errors.ts";
import { FakeConntrack } from "../../system/conntrack.ts";
import { FakeNftSets } from "../../system/fake_nft.ts";
import { memoryLogger } from "../../system/log.ts";
import { checkPorts, ensurePorts, gcPorts, removePorts, udpFlows } from "./ports.ts";
import type { PodPorts } from "./render.ts";

function deps() {
  return { nft: new FakeNftSets(), conntrack: new FakeConntrack(), log: memoryLogger() };
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

Deno.test("ports: ADD maps in one transaction, flushes UDP flows of the hostPort", async () => {
  const d = deps();
  d.conntrack.flows.push(
    { family: 4, protocol: "udp", origDst: "10.0.0.1", origDstPort: 5353 },
    { family: 4, protocol: "udp", origDst: "10.0.0.1", origDstPort: 9999 },
  );
  await ensurePorts(d, A);
  assert.equal(d.nft.payloads.length, 1);
  assert.deepEqual(
    [...d.nft.elements(T, "hostport-any4")],
    [["tcp . 8080", "10.22.0.2 . 80"], ["udp . 5353", "10.22.0.2 . 53"]],
  );
  assert.equal(d.nft.rules(T, "hostport-dnat").length, 4);
  assert.deepEqual(d.conntrack.flows.map((f) => f.origDstPort), [9999]);
  // A second ADD of the same pod's rules does not duplicate the chain rules.
  await removePorts(d, A);
  await ensurePorts(d, A);
  assert.equal(d.nft.rules(T, "hostport-prerouting").length, 1);
});

Deno.test("ports: the same hostPort for a second pod is 104 naming the holder; the first stays", async () => {
  const d = deps();
  await ensurePorts(d, A);
  const err = await ensurePorts(d, B).catch((e) => e);
  assert.ok(err instanceof CniError);
  assert.equal(err.code, CniCode.PortInUse);
  assert.match(err.message, /tcp\/8080 on every address is already mapped to 10\.22\.0\.2 \. 80/);
  assert.match(err.message, /hgaaaaaaaaaaaa of network n/);
  assert.equal(d.nft.elements(T, "hostport-any4").get("tcp . 8080"), "10.22.0.2 . 80");
  await checkPorts(d, A);
});

Deno.test("ports: DEL is repeatable and never removes another pod's mapping", async () => {
  const d = deps();
  await ensurePorts(d, A);
  await removePorts(d, A);
  await removePorts(d, A);
  assert.equal(d.nft.elements(T, "hostport-any4").size, 0);
  assert.equal(d.nft.elements(T, "hostport-masq4").size, 0);
  await ensurePorts(d, B);
  // A stale record of A naming B's key: the transaction fails, B keeps its port.
  await assert.rejects(() =>
    removePorts(d, { ...A, podIps: ["10.22.0.2/24"] }).then(() => {
      if (d.nft.elements(T, "hostport-any4").size === 0) throw new Error("B's mapping removed");
      throw new Error("busy expected");
    })
  );
  assert.equal(d.nft.elements(T, "hostport-any4").get("tcp . 8080"), "10.22.0.3 . 80");
});

Deno.test("ports: CHECK finds a missing or re-pointed mapping (103)", async () => {
  const d = deps();
  await ensurePorts(d, A);
  await checkPorts(d, A);
  d.nft.deleteTable(T);
  const err = await checkPorts(d, A).catch((e) => e);
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
  assert.equal(n, 6);
  assert.deepEqual([...d.nft.elements(T, "hostport-any4").keys()], ["tcp . 9090", "tcp . 7070"]);
  assert.equal(await gcPorts(d, { network: "n", keep: new Set(["hgbbbbbbbbbbbb"]) }), 0);
});

Deno.test("ports: a failed apply is an error and changes nothing; conntrack faults only warn", async () => {
  const d = deps();
  d.nft.failNextApply();
  await assert.rejects(() => ensurePorts(d, A), /Cannot add hostPort rules/);
  assert.equal(d.nft.elements(T, "hostport-any4").size, 0);
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
