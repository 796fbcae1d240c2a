/**
 * Root-only: in-process nftables set elements (src/system/nftables) against
 * the real kernel and the real `nft`, in a throwaway namespace hgset-*. What
 * the FFI writes must be what `nft list set` prints, and what `nft add
 * element` writes must decode; batches are atomic. The root netns is never
 * touched (its nft ruleset is compared before and after).
 */
import assert from "node:assert/strict";
import { isRoot, type NetnsSet, run, withNetns } from "./helpers/netns.ts";
import {
  decodeKey,
  deleteIgnoringMissing,
  E2BIG,
  EEXIST,
  encodeKey,
  ENOENT,
  FfiNftSets,
  MAX_APPLY_OPS,
  NftSetsError,
  type SetElementOp,
} from "../src/system/nftables/mod.ts";

const ignore = !isRoot();
const T = { family: "inet", table: "hgset-test" } as const;
const IF = "hg0123456789ab";

const DEFINITION = `table inet hgset-test {
  comment "hostgate: nftables sets integration test"
  set guarded { type ifname; }
  set macs { type ifname . ether_addr; }
  set addr4 { type ifname . ipv4_addr; }
  set addr6 { type ifname . ipv6_addr; }
  set nd6 { typeof iifname . @th,64,128; }
  map ports { type inet_proto . inet_service : ipv4_addr . inet_service; }
  set svc { type inet_service; }
}
`;

async function nftIn(ns: NetnsSet, node: string, args: string[], stdin?: string): Promise<string> {
  return await ns.sh(node, ["nft", ...args], stdin === undefined ? {} : { stdin });
}

/** The `elements = { ... }` line of `nft list set`, or "" when empty. */
async function listed(ns: NetnsSet, node: string, set: string): Promise<string> {
  const kind = set === "ports" ? "map" : "set";
  const out = await nftIn(ns, node, ["list", kind, T.family, T.table, set]);
  return out.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("elements"))
    .join("\n");
}

function setsTest(name: string, fn: (ns: NetnsSet, node: string) => Promise<void>): void {
  Deno.test({
    name,
    ignore,
    fn: async () => {
      const before = (await run(["nft", "list", "ruleset"])).stdout;
      await withNetns("hgset", async (ns) => {
        const node = await ns.add("node");
        await nftIn(ns, node, ["-f", "-"], DEFINITION);
        await fn(ns, node);
      });
      assert.equal((await run(["nft", "list", "ruleset"])).stdout, before, "root ruleset changed");
    },
  });
}

setsTest("nftables sets: elements written in-process are what nft lists", async (ns, node) => {
  const sets = new FfiNftSets({ netns: ns.path(node) });
  try {
    const ll = new Uint8Array(16);
    ll.set([0xfe, 0x80], 0);
    ll.set([0x00, 0xaa, 0xbb, 0xff, 0xfe, 0xcc, 0xdd, 0x01], 8);
    await sets.apply([
      {
        op: "add",
        ...T,
        set: "macs",
        key: encodeKey(["ifname", "ether_addr"], [IF, "02:aa:bb:cc:dd:01"]),
      },
      { op: "add", ...T, set: "addr4", key: encodeKey(["ifname", "ipv4_addr"], [IF, "10.22.0.5"]) },
      {
        op: "add",
        ...T,
        set: "addr6",
        key: encodeKey(["ifname", "ipv6_addr"], [IF, "fd00:22::5"]),
      },
      { op: "add", ...T, set: "nd6", key: encodeKey(["ifname", { raw: 16 }], [IF, ll]) },
      {
        op: "add",
        ...T,
        set: "ports",
        key: encodeKey(["inet_proto", "inet_service"], [17, 8080]),
        data: encodeKey(["ipv4_addr", "inet_service"], ["10.22.0.5", 53]),
        comment: "hostport of ctr1",
      },
      { op: "add", ...T, set: "svc", key: encodeKey(["inet_service"], [443]) },
      { op: "add", ...T, set: "guarded", key: encodeKey(["ifname"], [IF]), comment: "ctr1 eth0" },
    ]);
    assert.equal(await listed(ns, node, "guarded"), `elements = { "${IF}" comment "ctr1 eth0" }`);
    assert.equal(await listed(ns, node, "macs"), `elements = { "${IF}" . 02:aa:bb:cc:dd:01 }`);
    assert.equal(await listed(ns, node, "addr4"), `elements = { "${IF}" . 10.22.0.5 }`);
    assert.equal(await listed(ns, node, "addr6"), `elements = { "${IF}" . fd00:22::5 }`);
    assert.equal(
      await listed(ns, node, "nd6"),
      `elements = { "${IF}" . 0xfe8000000000000000aabbfffeccdd01 }`,
    );
    assert.equal(
      await listed(ns, node, "ports"),
      `elements = { udp . 8080 comment "hostport of ctr1" : 10.22.0.5 . 53 }`,
    );
    assert.equal(await listed(ns, node, "svc"), `elements = { 443 }`);
  } finally {
    sets.close();
  }
});

setsTest("nftables sets: elements added by nft decode from list and get", async (ns, node) => {
  await nftIn(ns, node, [
    'add element inet hgset-test macs { "hgaaaa" . 02:00:00:00:00:0a, "hgbbbb" . 02:00:00:00:00:0b }',
  ]);
  await nftIn(ns, node, [
    'add element inet hgset-test ports { tcp . 80 comment "web" : 10.0.0.7 . 8080 }',
  ]);
  await nftIn(ns, node, ['add element inet hgset-test addr6 { "hgaaaa" . fe80::1 }']);
  const sets = new FfiNftSets({ netns: ns.path(node) });
  try {
    const macs = (await sets.list({ ...T, set: "macs" }))
      .map((e) => decodeKey(["ifname", "ether_addr"], e.key)).sort();
    assert.deepEqual(macs, [["hgaaaa", "02:00:00:00:00:0a"], ["hgbbbb", "02:00:00:00:00:0b"]]);
    const [port] = await sets.list({ ...T, set: "ports" });
    assert.deepEqual(decodeKey(["inet_proto", "inet_service"], port!.key), [6, 80]);
    assert.deepEqual(decodeKey(["ipv4_addr", "inet_service"], port!.data!), ["10.0.0.7", 8080]);
    assert.equal(port!.comment, "web");
    const [v6] = await sets.list({ ...T, set: "addr6" });
    assert.deepEqual(decodeKey(["ifname", "ipv6_addr"], v6!.key), ["hgaaaa", "fe80::1"]);
    const key = encodeKey(["ifname", "ether_addr"], ["hgaaaa", "02:00:00:00:00:0a"]);
    assert.deepEqual((await sets.get({ ...T, set: "macs" }, key))?.key, key);
    const other = encodeKey(["ifname", "ether_addr"], ["hgaaaa", "02:00:00:00:00:0b"]);
    assert.equal(await sets.get({ ...T, set: "macs" }, other), undefined);
    assert.deepEqual(await sets.list({ ...T, set: "svc" }), []);
    assert.equal(await sets.hasTable("inet", T.table), true);
    assert.equal(await sets.hasTable("netdev", T.table), false);
    assert.equal(await sets.hasTable("inet", "nope"), false);
  } finally {
    sets.close();
  }
});

setsTest("nftables sets: a batch is atomic; ENOENT and EEXIST name the op", async (ns, node) => {
  const sets = new FfiNftSets({ netns: ns.path(node) });
  const svc = (port: number, extra: Partial<SetElementOp> = {}): SetElementOp => ({
    op: "add",
    ...T,
    set: "svc",
    key: encodeKey(["inet_service"], [port]),
    ...extra,
  });
  const fails = async (ops: SetElementOp[], errno: number, index: number, text: RegExp) => {
    await assert.rejects(sets.apply(ops), (e: unknown) => {
      assert.ok(e instanceof NftSetsError, String(e));
      assert.deepEqual([e.errno, e.index], [errno, index]);
      assert.match(e.message, text);
      return true;
    });
  };
  try {
    await sets.apply([svc(1), svc(2)]);
    // The second op deletes a missing element: the whole batch is refused, the add included.
    await fails(
      [svc(3), svc(9, { op: "delete" })],
      ENOENT,
      1,
      /^Cannot delete element from set inet hgset-test svc: no such file or directory \(ENOENT\)/,
    );
    await fails([svc(4), svc(2, { exclusive: true })], EEXIST, 1, /file exists \(EEXIST\)/);
    await fails([svc(4, { set: "nope" })], ENOENT, 0, /add element to set inet hgset-test nope/);
    await fails([svc(4, { table: "nope" })], ENOENT, 0, /ENOENT/);
    assert.equal(await listed(ns, node, "svc"), "elements = { 1, 2 }");
    await sets.apply([svc(2)]); // not exclusive: an existing key is fine
    await assert.rejects(sets.list({ ...T, set: "nope" }), /Cannot list set .*ENOENT/);
    await assert.rejects(sets.get({ ...T, set: "nope" }, svc(1).key), /ENOENT/);
    // Add and delete in one batch, then the tolerant delete of a partly missing list.
    await sets.apply([svc(5), svc(1, { op: "delete" })]);
    assert.equal(await listed(ns, node, "svc"), "elements = { 2, 5 }");
    await deleteIgnoringMissing(sets, [svc(2), svc(7), svc(5), svc(1, { table: "gone" })]);
    assert.equal(await listed(ns, node, "svc"), "");
  } finally {
    sets.close();
  }
});

setsTest(
  "nftables sets: a batch of MAX_APPLY_OPS is answered in full; more is refused",
  async (ns, node) => {
    const sets = new FfiNftSets({ netns: ns.path(node) });
    const ops = (n: number, tag: string): SetElementOp[] =>
      Array.from({ length: n }, (_, i) => ({
        op: "add",
        ...T,
        set: "addr4",
        key: encodeKey(["ifname", "ipv4_addr"], [tag, `10.0.${i >> 8}.${i & 255}`]),
      }));
    try {
      await sets.apply(ops(MAX_APPLY_OPS, "hgbig"));
      assert.equal((await sets.list({ ...T, set: "addr4" })).length, MAX_APPLY_OPS);
      await assert.rejects(sets.apply(ops(MAX_APPLY_OPS + 1, "hgmore")), (e: unknown) => {
        assert.ok(e instanceof NftSetsError && e.errno === E2BIG, String(e));
        return true;
      });
      // Still usable, and a sweep of everything goes in slices.
      await deleteIgnoringMissing(sets, ops(MAX_APPLY_OPS, "hgbig"));
      assert.equal(await listed(ns, node, "addr4"), "");
    } finally {
      sets.close();
    }
  },
);
