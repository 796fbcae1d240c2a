/**
 * nftables set elements in-process over nfnetlink: the NftSets seam
 * (types.ts), key encoders (key.ts), the wire codec, the FFI implementation
 * and a stateful fake. Per-pod state (guard addresses, hostPort maps) lives
 * in elements of fixed sets, so a pod never spawns `nft` nor (un)registers
 * a base chain.
 *
 * ```ts
 * const sets: NftSets = new FfiNftSets({ netns: "/run/netns/node" });
 * const key = encodeKey(["ifname", "ipv4_addr"], ["hg0123456789ab", "10.0.0.5"]);
 * await sets.apply([{ op: "add", family: "inet", table: "t", set: "s", key, comment: "pod" }]);
 * ```
 * @module
 */

export * from "./types.ts";
export * from "./key.ts";
export { deleteIgnoringMissing } from "./delete.ts";
export { FfiNftSets, type FfiNftSetsOptions } from "./ffi_sets.ts";
export {
  FakeNftSets,
  type FakeSetsCall,
  type FakeSetsFault,
  type FakeSetSpec,
} from "./fake_sets.ts";
export { NETLINK_NETFILTER } from "./constants.ts";
