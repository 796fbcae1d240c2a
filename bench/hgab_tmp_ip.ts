import { canonCidr, canonIp, isCidr, isIp, cidrContains, gatewayCidr } from "../src/agent/cidr.ts";
const t = (f: () => unknown) => { try { return JSON.stringify(f()); } catch (e) { return "THROW " + (e as Error).message; } };
for (const s of ["fd00:0:1:0:0:1:0:1", "1:0:1:1:1:1:1:1", "::ffff:10.0.0.1", "::10.0.0.1", "FD00::0001", "0:0:0:0:0:0:0:0", "::", "::1", "1::", "fe80::1%eth0", "010.0.0.1", "10.0.0.01", "1.2.3", "256.1.1.1", " 10.0.0.1", "10.0.0.1 ", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", ":1::", "1:0:0:1:0:0:1:1", "10.0.0.1/32", "0x10.0.0.1", "1e1.0.0.1", "+1.0.0.1", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4.5", "1::1.2.3.4", "00001::"]) {
  console.log(JSON.stringify(s), "isIp", t(() => isIp(s)), "canon", t(() => canonIp(s)));
}
for (const s of ["10.244.1.7/24", "10.0.0.0/33", "10.0.0.0/0", "10.0.0.0/", "10.0.0.0/024", "fd00::1/64", "fd00::/129", "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/ 8", "FD00:10:244:1::5/64", "10.0.0.0/+8", "::/0", "0.0.0.0/0", "10.1.2.3/32", "fd00::1/128", "10.0.0.0/1e1"]) {
  console.log(JSON.stringify(s), "isCidr", t(() => isCidr(s)), "canon", t(() => canonCidr(s)), "gw", t(() => gatewayCidr(s)));
}
console.log(cidrContains("10.0.0.0/8", "10.1.1.1"), cidrContains("10.0.0.0/8", "11.1.1.1"), cidrContains("fd00::/8", "fd12::1"));
console.log(t(() => cidrContains("10.0.0.0/8", "bogus")), t(() => canonIp("bogus")), t(() => canonCidr("bogus")), t(() => cidrContains("bogus/8", "10.0.0.1")));
