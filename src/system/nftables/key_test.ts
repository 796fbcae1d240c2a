import assert from "node:assert/strict";
import { decodeKey, encodeKey, ifnameBytes, keyLen } from "./key.ts";

const IF = "hg0123456789ab";
const ifBytes = [...new TextEncoder().encode(IF), 0, 0];

Deno.test("key: single fields are their datatype's bytes, unpadded", () => {
  assert.deepEqual([...encodeKey(["ifname"], [IF])], ifBytes);
  assert.deepEqual([...encodeKey(["ether_addr"], ["02:AA:bb:cc:dd:01"])], [
    2,
    170,
    187,
    204,
    221,
    1,
  ]);
  assert.deepEqual([...encodeKey(["ipv4_addr"], ["10.22.0.5"])], [10, 22, 0, 5]);
  assert.deepEqual([...encodeKey(["inet_proto"], [17])], [17]);
  assert.deepEqual([...encodeKey(["inet_service"], [443])], [1, 187]);
  assert.equal(encodeKey(["ipv6_addr"], ["fd00::1"]).length, 16);
});

Deno.test("key: a concatenation pads every field to 4-byte registers", () => {
  assert.equal(keyLen(["ifname", "ether_addr"]), 24);
  assert.equal(keyLen(["inet_proto", "inet_service"]), 8);
  assert.equal(keyLen(["ifname", { raw: 16 }]), 32);
  assert.deepEqual(
    [...encodeKey(["ifname", "ether_addr"], [IF, "02:aa:bb:cc:dd:01"])],
    [...ifBytes, 2, 170, 187, 204, 221, 1, 0, 0],
  );
  assert.deepEqual([...encodeKey(["inet_proto", "inet_service"], [6, 8080])], [
    6,
    0,
    0,
    0,
    0x1f,
    0x90,
    0,
    0,
  ]);
  assert.deepEqual([...encodeKey(["ipv4_addr", "inet_service"], ["10.22.0.5", 80])], [
    10,
    22,
    0,
    5,
    0,
    80,
    0,
    0,
  ]);
});

Deno.test("key: decode is the inverse of encode", () => {
  const f = [
    "ifname",
    "ether_addr",
    "ipv4_addr",
    "ipv6_addr",
    "inet_proto",
    "inet_service",
  ] as const;
  const v = [IF, "02:aa:bb:cc:dd:01", "10.0.0.1", "fd00:22::5", 6, 65535];
  assert.deepEqual(decodeKey(f, encodeKey(f, v)), v);
  const raw = new Uint8Array(16).fill(7);
  assert.deepEqual(
    decodeKey(["ifname", { raw: 16 }], encodeKey(["ifname", { raw: 16 }], [IF, raw])),
    [
      IF,
      raw,
    ],
  );
  assert.throws(() => decodeKey(["ifname", "ipv4_addr"], new Uint8Array(19)), /19 bytes, not 20/);
});

Deno.test("key: bad values are refused with the field named", () => {
  assert.throws(() => ifnameBytes("a-sixteen-bytes!"), /Cannot encode ifname .*1-15 bytes/);
  assert.throws(() => ifnameBytes(""), /ifname/);
  assert.throws(() => encodeKey(["ipv4_addr"], ["fd00::1"]), /not an IPv4 address/);
  assert.throws(() => encodeKey(["ipv6_addr"], ["10.0.0.1"]), /not an IPv6 address/);
  assert.throws(() => encodeKey(["ipv4_addr"], ["10.0.0"]), /not an IPv4 address/);
  assert.throws(() => encodeKey(["ether_addr"], ["02:aa:bb:cc:dd"]), /not a MAC/);
  assert.throws(() => encodeKey(["inet_service"], [65536]), /not a port/);
  assert.throws(() => encodeKey(["inet_proto"], [1.5]), /not a protocol/);
  assert.throws(() => encodeKey([{ raw: 16 }], [new Uint8Array(15)]), /not 16 bytes/);
  assert.throws(() => encodeKey(["ifname", "ipv4_addr"], [IF]), /1 values for 2 fields/);
});
