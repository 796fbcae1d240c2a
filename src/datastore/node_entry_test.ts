import assert from "node:assert/strict";
import {
  encodeNodeEntry,
  freezeNode,
  parseNodeEntry,
  sameNode,
  sortNodes,
  validateNodeName,
} from "./node_entry.ts";

Deno.test("node names: DNS-1123 subdomains only", () => {
  for (const ok of ["a", "node-1", "worker.example.com", "0"]) validateNodeName(ok);
  for (const bad of ["", "A", "-a", "a-", "a_b", "../x", "a/b", ".a", "a..b", "x".repeat(254)]) {
    assert.throws(() => validateNodeName(bad), /^Error: Cannot use node name: /, bad);
  }
});

Deno.test("parseNodeEntry canonicalizes and validates", () => {
  const n = parseNodeEntry(
    JSON.stringify({
      name: "n1",
      podCidrs: ["10.244.1.9/24", "fd00:0:0:1::/64"],
      addresses: ["192.168.1.1", "fd00::1"],
      vtep: { mac: "AA:BB:CC:DD:EE:FF", ip: "10.244.1.0" },
      extra: "dropped",
    }),
    "n1",
  );
  assert.deepEqual(n, {
    name: "n1",
    podCidrs: ["10.244.1.0/24", "fd00:0:0:1::/64"],
    addresses: ["192.168.1.1", "fd00::1"],
    vtep: { mac: "aa:bb:cc:dd:ee:ff", ip: "10.244.1.0" },
  });
  // Missing lists mean empty.
  assert.deepEqual(parseNodeEntry('{"name":"n2"}'), { name: "n2", podCidrs: [], addresses: [] });
});

Deno.test("parseNodeEntry rejects damaged entries with a reason", () => {
  const cases: [string, RegExp][] = [
    ["{", /not JSON/],
    ["[]", /not a JSON object/],
    ['{"podCidrs":[]}', /name is missing/],
    ['{"name":"n","podCidrs":"10.0.0.0/24"}', /podCidrs is not an array/],
    ['{"name":"n","podCidrs":["10.0.0.0"]}', /not a CIDR/],
    ['{"name":"n","addresses":["10.0.0.1/24"]}', /address/],
    ['{"name":"n","vtep":{"mac":"aa:bb:cc:dd:ee:ff","ip":"x"}}', /vtep\.ip/],
    ['{"name":"n","vtep":"x"}', /vtep is not an object/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => parseNodeEntry(text), (e: Error) => {
      assert.match(e.message, /^Cannot (parse node entry|use node name): /);
      assert.match(e.message, why);
      return true;
    }, text);
  }
  assert.throws(() => parseNodeEntry('{"name":"a"}', "b"), /does not match its key b/);
});

Deno.test("encode, compare, freeze, sort", () => {
  const a = { name: "a", podCidrs: ["10.0.0.0/24"], addresses: ["1.1.1.1"] };
  const b = { addresses: ["1.1.1.1"], podCidrs: ["10.0.0.0/24"], name: "a" };
  assert.equal(encodeNodeEntry(a), encodeNodeEntry(b));
  assert.ok(sameNode(a, b));
  assert.ok(!sameNode(a, { ...a, addresses: ["1.1.1.2"] }));
  assert.ok(!sameNode(a, undefined));
  assert.ok(sameNode(undefined, undefined));
  const f = freezeNode({ ...a, vtep: { mac: "aa:bb:cc:dd:ee:ff", ip: "10.0.0.0" } });
  assert.ok(Object.isFrozen(f) && Object.isFrozen(f.podCidrs) && Object.isFrozen(f.vtep));
  assert.deepEqual(sortNodes([{ ...a, name: "c" }, a, { ...a, name: "b" }]).map((n) => n.name), [
    "a",
    "b",
    "c",
  ]);
});
