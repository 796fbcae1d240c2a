import { deepEqual, equal, throws } from "node:assert/strict";
import { kubeletNode } from "../../../tests/helpers/apiserver_kubelet_node.ts";
import { ListPageDecoder, type ListPageMeta, readListPage } from "./list_page.ts";
import { compileSelector, decodePruned, mergeSelectors } from "./prune.ts";
import { NODE_SELECTOR, projectNode, VTEP_IP_ANNOTATION, VTEP_MAC_ANNOTATION } from "./nodes.ts";
import { MAX_ENTRY_BYTES } from "../types.ts";

const enc = new TextEncoder();
const ITEM = compileSelector(
  mergeSelectors(NODE_SELECTOR, { metadata: { name: true, resourceVersion: true } }),
);
const LIMITS = { maxValueBytes: MAX_ENTRY_BYTES, maxDepth: 256 };

/** Decodes `bytes` fed in chunks of the given sizes (cycled); the projections and metadata. */
function decodeInChunks(bytes: Uint8Array, sizes: number[]) {
  const out: unknown[] = [];
  const d = new ListPageDecoder({
    item: ITEM,
    limits: LIMITS,
    onItem: (o) => out.push(projectNode(o as never)),
  });
  for (let off = 0, k = 0; off < bytes.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length]!);
    d.push(bytes.subarray(off, off + n));
    off += n;
  }
  const meta = d.finish();
  return { out, meta };
}

/** The reference: JSON.parse the whole page, then project every item. */
function reference(bytes: Uint8Array): { out: unknown[]; meta: ListPageMeta } {
  const page = JSON.parse(new TextDecoder().decode(bytes));
  return {
    out: (page.items ?? []).map(projectNode),
    meta: {
      resourceVersion: page.metadata?.resourceVersion ?? "",
      continue: page.metadata?.continue ?? "",
    },
  };
}

function kubeletPage(
  n: number,
  extra: (i: number) => Record<string, string> = () => ({}),
): Uint8Array {
  const items = [];
  for (let i = 0; i < n; i++) {
    const node = kubeletNode({
      name: `node-${i}`,
      podCidrs: i % 4 === 3 ? undefined : [`10.${i >> 8}.${i & 255}.0/24`],
      ips: [`172.16.0.${i + 10}`],
      annotations: {
        [VTEP_MAC_ANNOTATION]: "02:00:00:00:00:01",
        [VTEP_IP_ANNOTATION]: "10.9.0.1",
        ...extra(i),
      },
    }) as { metadata: Record<string, unknown> };
    node.metadata.resourceVersion = `${1000 + i}`;
    items.push(node);
  }
  const page = {
    kind: "NodeList",
    apiVersion: "v1",
    metadata: { resourceVersion: "4242", continue: 'tok"en/é' },
    items,
  };
  return enc.encode(JSON.stringify(page, null, 1));
}

Deno.test("ListPageDecoder: kubelet Nodes, any chunking, equal JSON.parse then project", () => {
  const bytes = kubeletPage(
    12,
    (i): Record<string, string> => i === 5 ? { "hostgate.io/node-ips": "10.1.1.1, fd00::1" } : {},
  );
  const want = reference(bytes);
  equal(want.out.length, 12);
  for (const sizes of [[bytes.length], [7, 3, 1], [4096], [9999, 1], [65536], [13, 8192, 2]]) {
    deepEqual(decodeInChunks(bytes, sizes), want, `chunks ${sizes}`);
  }
  const two = kubeletPage(2);
  deepEqual(decodeInChunks(two, [1]), reference(two), "byte by byte");
});

Deno.test("ListPageDecoder: escapes, unicode split across chunks, odd key order, empty items", () => {
  const node = {
    status: { addresses: [{ address: "192.0.2.7", type: "InternalIP" }], 'x"}]': "{[" },
    "sp\u0065c": { podCIDRs: ["10.0.0.0/24"] },
    metadata: {
      annotations: {
        "hostgate.io/vtep-mac": "aa:\u00e9\u{1F600}",
        "k\\": '\\"',
        [VTEP_IP_ANNOTATION]: "\u0031",
      },
      "n\u0061me": "n\u00f6de-\u{1F600}",
      labels: { "a": '}}}]]]"\\' },
    },
  };
  const text = `{"metadata":{"continue":"","resourceVersion":"7"},"items":[${
    JSON.stringify(node)
  }, {} ],"kind":"NodeList"}`
    .replace('"spec"', '"sp\\u0065c"').replace('"name"', '"n\\u0061me"');
  const bytes = enc.encode(text);
  const want = reference(bytes);
  deepEqual(want.out[0], projectNode(node as never));
  for (let size = 1; size < 40; size++) {
    deepEqual(decodeInChunks(bytes, [size]), want, `size ${size}`);
  }
  deepEqual(decodeInChunks(enc.encode('{"items":null}'), [3]), {
    out: [],
    meta: { resourceVersion: "", continue: "" },
  });
  deepEqual(decodeInChunks(enc.encode(" { } "), [1]).out, []);
});

Deno.test("ListPageDecoder: truncated at every byte is an error, never a partial page", () => {
  const bytes = enc.encode(
    '{"metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"a"},"spec":{"podCIDRs":["10.0.0.0/24"]}},' +
      '{"metadata":{"name":"b","resourceVersion":"12"}}]}',
  );
  decodeInChunks(bytes, [5]);
  for (let cut = 0; cut < bytes.length; cut++) {
    throws(() => decodeInChunks(bytes.subarray(0, cut), [3]), SyntaxError, `cut at ${cut}`);
  }
});

Deno.test("ListPageDecoder: malformed pages throw SyntaxError", () => {
  const bad = [
    '{"items":[null]}',
    '{"items":[{"metadata":{"name":"a"}},"node"]}',
    '[{"metadata":{}}]',
    '{"items":{"a":1}}',
    '{"items":[{"metadata":{"name":"a"}} {"metadata":{}}]}',
    '{"items":[{"metadata":{"name":"a"],"x":1}]}',
    '{"items":[{"metadata":{"name":"a"}}]} trailing',
    '{"items":[{"spec":{"podCIDRs":[1,}}}]}',
    '{"items":[{"metadata":{"name":"a","labels":{"x":[}]}}}]}',
    '{"items":[{"status":{"images":@}}]}',
    '{"items":[{"metadata":{"name":"a\x01"}}]}',
    '{"metadata" 1}',
  ];
  for (const text of bad) throws(() => decodeInChunks(enc.encode(text), [2]), SyntaxError, text);
});

Deno.test("ListPageDecoder: hostile sizes: values over the cap are left out, deep nesting refused", () => {
  const huge = "x".repeat(MAX_ENTRY_BYTES + 1);
  const bytes = kubeletPage(
    3,
    (i): Record<string, string> =>
      i === 1 ? { [VTEP_IP_ANNOTATION]: huge, "skipped/huge": huge } : {},
  );
  const { out } = decodeInChunks(bytes, [1000]);
  equal((out[1] as { vtepIp?: string }).vtepIp, undefined);
  deepEqual(out[0], reference(bytes).out[0]);
  // A huge address list is left out as a whole: the node has no address, not a partial one.
  const addrs = Array.from(
    { length: 3000 },
    (_, i) => ({ type: "InternalIP", address: `10.0.${i >> 8}.${i & 255}` }),
  );
  const page = enc.encode(
    JSON.stringify({ items: [{ metadata: { name: "n" }, status: { addresses: addrs } }] }),
  );
  deepEqual((decodeInChunks(page, [4096]).out[0] as { internalIps: string[] }).internalIps, []);
  // Nesting beyond the cap, in a skipped part or a selected one.
  const deep = "[".repeat(300) + "]".repeat(300);
  throws(
    () => decodeInChunks(enc.encode(`{"items":[{"status":{"images":${deep}}}]}`), [64]),
    SyntaxError,
  );
  throws(
    () => decodeInChunks(enc.encode(`{"items":[{"spec":{"podCIDRs":${deep}}}]}`), [64]),
    SyntaxError,
  );
  // One value bigger than the buffer cap fails the page instead of growing without bound.
  const d = new ListPageDecoder({
    item: ITEM,
    limits: LIMITS,
    onItem: () => {},
    maxBufferBytes: 1 << 20,
  });
  throws(
    () => d.push(enc.encode(`{"items":[{"status":{"images":"${"y".repeat(2 << 20)}"}}]}`)),
    SyntaxError,
  );
});

Deno.test("readListPage: a BYOB body and a plain one give the same page", async () => {
  const bytes = kubeletPage(30);
  const want = reference(bytes);
  for (const type of ["bytes", undefined] as const) {
    const chunks = (c: { enqueue(b: Uint8Array): void; close(): void }) => {
      for (let off = 0; off < bytes.length; off += 5000) c.enqueue(bytes.slice(off, off + 5000));
      c.close();
    };
    const body = type === "bytes"
      ? new ReadableStream({ type: "bytes", start: chunks })
      : new ReadableStream<Uint8Array>({ start: chunks });
    const out: unknown[] = [];
    const d = new ListPageDecoder({
      item: ITEM,
      limits: LIMITS,
      onItem: (o) => out.push(projectNode(o as never)),
    });
    const meta = await readListPage(new Response(body), d);
    deepEqual({ out, meta }, want);
  }
});

Deno.test("decodePruned: a watch event line equals JSON.parse then project", () => {
  const node = kubeletNode({ name: "w", podCidrs: ["10.1.0.0/24"], ips: ["172.16.0.9"] });
  const line = enc.encode(JSON.stringify({ type: "MODIFIED", object: node }));
  const ev = decodePruned(line, { type: true, object: NODE_SELECTOR }, LIMITS) as {
    type: string;
    object: never;
  };
  equal(ev.type, "MODIFIED");
  deepEqual(projectNode(ev.object), projectNode(node as never));
  throws(
    () => decodePruned(line.subarray(0, line.length - 1), { type: true, object: NODE_SELECTOR }),
    SyntaxError,
  );
  equal(decodePruned(enc.encode("null"), { type: true }), null);
});
