import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeFileSystem } from "../system/fake_fs.ts";
import {
  DEFAULT_STATE_DIR,
  listRecords,
  type PodRecord,
  readRecord,
  recordPath,
  stateDirOf,
  wantsRecord,
  writeRecord,
} from "./pod_record.ts";
import { tcArgv } from "../system/tc.ts";
import { burstBytes, hostVethOfIfb, IFB_PATTERN, ifbName, renderShaping } from "./shaping/mod.ts";

const REC: PodRecord = {
  containerId: "c1",
  ifname: "eth0",
  hostVeth: "hg0123456789ab",
  podIps: ["10.77.0.5/24"],
  portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
  bandwidth: { ingress: { rate: 1_000_000, burst: 80_000 } },
};

Deno.test("stateDirOf: absolute paths only, trailing slashes dropped, the default otherwise", () => {
  assert.equal(stateDirOf({}), DEFAULT_STATE_DIR);
  assert.equal(stateDirOf({ stateDir: "" }), DEFAULT_STATE_DIR);
  assert.equal(stateDirOf({ stateDir: "/var/run/hg//" }), "/var/run/hg");
  for (const bad of ["rel/dir", 7, "/a\0b"]) {
    assert.throws(
      () => stateDirOf({ stateDir: bad }),
      (e: unknown) =>
        e instanceof CniError && e.code === CniCode.InvalidNetworkConfig &&
        /stateDir/.test(e.message),
    );
  }
});

Deno.test("pod records: written private and atomically, read back, torn or foreign ones skipped", async () => {
  const fs = new FakeFileSystem();
  const at = { stateDir: "/run/hostgate/pods", network: "net1" };
  assert.deepEqual(await listRecords(fs, at), [], "no directory yet: no records");
  await writeRecord(fs, at, REC);
  const path = recordPath(at.stateDir, at.network, REC.hostVeth);
  assert.equal(path, "/run/hostgate/pods/net1/hg0123456789ab.json");
  assert.equal(fs.modeOf(path), 0o600);
  assert.deepEqual(await readRecord(fs, path), REC);
  fs.setFile(`${at.stateDir}/net1/hg1.json`, '{"containerId":"c2","hostV'); // torn
  fs.setFile(`${at.stateDir}/net1/hg2.json`, '{"containerId":"c3"}'); // not a record
  fs.setFile(`${at.stateDir}/net1/.hg3.json.tmp-1-a`, JSON.stringify(REC)); // a temp file
  fs.setFile(`${at.stateDir}/net1/notes.txt`, "x");
  assert.deepEqual(await listRecords(fs, at), [REC]);
  assert.equal(await readRecord(fs, `${at.stateDir}/net1/missing.json`), undefined);
});

Deno.test("wantsRecord: only port mappings or bandwidth need one", () => {
  assert.equal(wantsRecord({ portMappings: [] }), false);
  assert.equal(wantsRecord({ portMappings: REC.portMappings }), true);
  assert.equal(wantsRecord({ portMappings: [], bandwidth: {} }), true);
});

Deno.test("shaping: ingress is a TBF on the host veth; egress goes through the pod's IFB", () => {
  const veth = "hg0123456789ab";
  const ifb = ifbName(veth);
  assert.equal(ifb, "hb0123456789ab");
  assert.match(ifb, IFB_PATTERN);
  assert.equal(hostVethOfIfb(ifb), veth);
  assert.equal(burstBytes(80_001), 10_001, "bits to bytes, rounded up");
  assert.deepEqual(renderShaping(veth, {}), []);
  assert.deepEqual(renderShaping(veth, { ingress: { rate: 1_000_000, burst: 80_000 } }), [
    { op: "tbf", dev: veth, rateBits: 1_000_000, burst: 10_000, latencyUs: 25_000 },
  ]);
  const egress = renderShaping(veth, { egress: { rate: 2_000_000, burst: 16_000 } });
  assert.deepEqual(egress, [
    { op: "tbf", dev: ifb, rateBits: 2_000_000, burst: 2000, latencyUs: 25_000 },
    { op: "ingress", dev: veth },
    { op: "redirect", dev: veth, to: ifb },
  ]);
  assert.deepEqual(egress.map((op) => tcArgv(op).join(" ")), [
    "qdisc add dev hb0123456789ab root handle 1: tbf rate 2000000bit burst 2000 latency 25ms",
    "qdisc add dev hg0123456789ab ingress",
    "filter add dev hg0123456789ab parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev hb0123456789ab",
  ]);
});
