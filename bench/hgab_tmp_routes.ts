import { FfiNetlink } from "../src/system/netlink/mod.ts";
const nl = new FfiNetlink();
const h = nl.open("/run/netns/hgab-x");
const link = h.getLink("up0")!;
const N = 5000;
const routes = [];
for (let i = 0; i < N; i++) { const n = i + 10; routes.push({ family: 4 as const, dst: `10.${i >> 8}.${i & 255}.0/24`, gateway: `172.16.${n >> 8}.${n & 255}`, linkIndex: link.index, protocol: 151, table: 254 }); }
let t = performance.now();
for (const r of routes) h.addRoute(r);
console.log("add", performance.now() - t);
t = performance.now();
const l = h.listRoutes({ family: 4, protocol: 151 });
console.log("list", performance.now() - t, l.length);
t = performance.now();
for (const r of routes) h.deleteRoute(r);
console.log("del", performance.now() - t);
