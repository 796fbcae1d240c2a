import { deepEqual, throws } from "node:assert/strict";
import { decodePruned, mergeSelectors } from "./prune.ts";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

Deno.test("decodePruned: keeps selected keys, whole subtrees, arrays element-wise; skips the rest", () => {
  const doc = {
    kind: "NodeList",
    metadata: { resourceVersion: "42", continue: "abc" },
    items: [
      {
        metadata: {
          name: "n1",
          annotations: { "a/b": "x", big: "y".repeat(100) },
          managedFields: [{ f: { 'k:{"type":"Ready"}': {} } }],
        },
        spec: { podCIDRs: ["10.0.0.0/24"], taints: [{ key: "k" }] },
        status: {
          addresses: [{ type: "InternalIP", address: "192.0.2.1" }],
          images: [{ names: ["x@sha256:0", 'tricky \\" } ] { ['], sizeBytes: 1e9 }],
          ok: true,
          n: null,
          x: -1.5e3,
        },
      },
      { metadata: { name: "ü-node" }, status: "weird" },
    ],
  };
  const sel = {
    metadata: true,
    items: {
      metadata: { name: true, annotations: { "a/b": true } },
      spec: { podCIDRs: true },
      status: { addresses: true, ok: true, n: true, x: true },
    },
  } as const;
  deepEqual(decodePruned(enc(doc), sel), {
    metadata: { resourceVersion: "42", continue: "abc" },
    items: [
      {
        metadata: { name: "n1", annotations: { "a/b": "x" } },
        spec: { podCIDRs: ["10.0.0.0/24"] },
        status: {
          addresses: [{ type: "InternalIP", address: "192.0.2.1" }],
          ok: true,
          n: null,
          x: -1500,
        },
      },
      { metadata: { name: "ü-node" }, status: "weird" },
    ],
  });
  deepEqual(decodePruned(enc(doc), true), doc);
});

Deno.test("decodePruned: escaped keys, whitespace, empty containers, no prototype keys", () => {
  const text = ' { "a\\"b" : { } , "constructor" : 1, "l": [ ], "s": "x\\\\" }\n';
  deepEqual(decodePruned(enc(text), { 'a"b': true, l: { z: true }, s: true }), {
    'a"b': {},
    l: [],
    s: "x\\",
  });
  deepEqual(decodePruned(enc(text), {}), {});
});

Deno.test("decodePruned: broken input throws", () => {
  throws(() => decodePruned(enc('{"a": "open'), {}), SyntaxError);
  throws(() => decodePruned(enc('{"a" 1}'), { a: true }), SyntaxError);
  throws(() => decodePruned(enc('{"a": [1,}'), { a: true }), SyntaxError);
  throws(() => decodePruned(enc('{"a": 1} x'), { a: true }), SyntaxError);
});

Deno.test("mergeSelectors: union, true wins", () => {
  deepEqual(
    mergeSelectors({ metadata: { name: true }, spec: true }, { metadata: { uid: true, name: {} } }),
    { metadata: { name: true, uid: true }, spec: true },
  );
  deepEqual(mergeSelectors({ a: { b: true } }, true), true);
});
