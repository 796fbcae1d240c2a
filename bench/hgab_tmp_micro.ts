import { canonCidr, canonIp, cidrContains, isCidr } from "../src/agent/cidr.ts";
import { cidrContains as netContains, parseCidr, parseIp } from "../src/net/mod.ts";
function time(name: string, n: number, f: (i: number) => unknown) {
  const t = performance.now();
  for (let i = 0; i < n; i++) f(i);
  console.log(name, ((performance.now() - t) / n * 1000).toFixed(2), "us");
}
time("canonCidr", 5000, (i) => canonCidr(`10.${i >> 8}.${i & 255}.0/24`));
time("canonIp", 5000, (i) => canonIp(`172.16.${i >> 8}.${i & 255}`));
time("isCidr", 5000, (i) => isCidr(`10.${i >> 8}.${i & 255}.0/24`));
time("cidrContains", 2000, (i) => cidrContains(`10.${i >> 8}.${i & 255}.0/24`, "10.0.0.1"));
time("net.parseCidr", 5000, (i) => parseCidr(`10.${i >> 8}.${i & 255}.0/24`));
time("net.parseIp", 5000, (i) => parseIp(`172.16.${i >> 8}.${i & 255}`));
time("net.contains", 5000, (i) => netContains(`10.${i >> 8}.${i & 255}.0/24`, "10.0.0.1"));
