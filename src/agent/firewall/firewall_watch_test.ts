import assert from "node:assert/strict";
import { FakeClock, settle } from "../../system/fake_clock.ts";
import type { NftEvent } from "../../system/netlink/nft_monitor.ts";
import { memoryLogger } from "../observe/mod.ts";
import { LEGACY_POLL_MS, nftEventWantsPass, watchFirewall } from "./firewall_watch.ts";

const ev = (e: Partial<NftEvent>): NftEvent => ({
  object: "rule",
  op: "delete",
  family: "inet",
  table: "hostgate",
  ...e,
});

Deno.test("nftEventWantsPass: nftables backend: the agent's chains only, not the plugin's", () => {
  assert.equal(nftEventWantsPass(ev({ chain: "HOSTGATE-FWD" }), "nftables"), true);
  assert.equal(
    nftEventWantsPass(ev({ object: "chain", chain: "HOSTGATE-POSTRTG" }), "nftables"),
    true,
  );
  assert.equal(nftEventWantsPass(ev({ chain: "HOSTGATE-VXLAN", op: "add" }), "nftables"), true);
  assert.equal(nftEventWantsPass(ev({ object: "table", op: "delete" }), "nftables"), true);
  assert.equal(nftEventWantsPass(ev({ object: "table", op: "add" }), "nftables"), false);
  assert.equal(nftEventWantsPass(ev({ chain: "hostport-dnat" }), "nftables"), false, "plugin's");
  assert.equal(nftEventWantsPass(ev({ table: "hostgate-policy", chain: "x" }), "nftables"), false);
  assert.equal(nftEventWantsPass(ev({ family: "ip", chain: "HOSTGATE-FWD" }), "nftables"), false);
});

Deno.test("nftEventWantsPass: iptables-nft: its chains and the builtin chains with its jumps", () => {
  const b = "iptables-nft";
  assert.equal(nftEventWantsPass(ev({ family: "ip", table: "filter", chain: "FORWARD" }), b), true);
  assert.equal(
    nftEventWantsPass(ev({ family: "ip6", table: "nat", chain: "POSTROUTING" }), b),
    true,
  );
  assert.equal(nftEventWantsPass(ev({ family: "ip", table: "filter", chain: "INPUT" }), b), true);
  assert.equal(
    nftEventWantsPass(ev({ family: "ip", table: "filter", chain: "HOSTGATE-FWD" }), b),
    true,
  );
  assert.equal(
    nftEventWantsPass(ev({ family: "ip", table: "filter", chain: "KUBE-SVC" }), b),
    false,
  );
  assert.equal(
    nftEventWantsPass(ev({ family: "ip", table: "mangle", chain: "FORWARD" }), b),
    false,
  );
  assert.equal(nftEventWantsPass(ev({ chain: "HOSTGATE-FWD" }), b), false, "inet is not iptables");
  assert.equal(nftEventWantsPass(ev({ chain: "HOSTGATE-FWD" }), "iptables-legacy"), false);
});

function start(backend: string, o: {
  monitorNft?: Parameters<typeof watchFirewall>[0]["monitorNft"];
  read?: () => string;
}) {
  const clock = new FakeClock();
  const ac = new AbortController();
  const log = memoryLogger();
  let fired = 0;
  let closed = 0;
  const done = watchFirewall({
    backend,
    monitorNft: o.monitorNft ?? (() => Promise.reject(new Error("no nft"))),
    openLegacy: () => ({ read: o.read ?? (() => "x"), close: () => closed++ }),
    fire: () => fired++,
    signal: ac.signal,
    clock,
    log,
    retryMinMs: 1_000,
    retryMaxMs: 30_000,
  });
  return { clock, log, fired: () => fired, closed: () => closed, stop: () => (ac.abort(), done) };
}

Deno.test("watchFirewall: iptables-legacy fires when the table fingerprint changes", async () => {
  let fp = "a";
  const s = start("iptables-legacy", { read: () => fp });
  await settle();
  await s.clock.advance(LEGACY_POLL_MS * 4);
  assert.equal(s.fired(), 0, "unchanged: no pass");
  fp = "b";
  await s.clock.advance(LEGACY_POLL_MS);
  assert.equal(s.fired(), 1, "a rule went: one pass");
  await s.clock.advance(LEGACY_POLL_MS * 3);
  assert.equal(s.fired(), 1);
  await s.stop();
  assert.equal(s.closed(), 1, "the socket is closed on stop");
  assert.equal(s.clock.pending, 0);
});

Deno.test("watchFirewall: nft events pass the filter; a failed monitor fires and restarts", async () => {
  let calls = 0;
  let emit: ((e: NftEvent) => void) | undefined;
  const s = start("nftables", {
    monitorNft: (o) => {
      calls++;
      if (calls === 1) return Promise.reject(new Error("Cannot bind: injected"));
      emit = o.onEvent;
      return new Promise((r) => o.signal.addEventListener("abort", () => r(), { once: true }));
    },
  });
  await settle();
  assert.equal(s.fired(), 1, "the failed watch asks for a pass");
  assert.equal(s.log.lines.filter((r) => r.level === "warn").length, 1);
  await s.clock.advance(1_000);
  assert.equal(calls, 2, "restarted after the backoff");
  emit!(ev({ chain: "hostport-dnat" }));
  assert.equal(s.fired(), 1);
  emit!(ev({ chain: "HOSTGATE-FWD" }));
  assert.equal(s.fired(), 2);
  await s.stop();
});

Deno.test("watchFirewall: backend none watches nothing", async () => {
  const s = start("none", {});
  await s.stop();
  assert.equal(s.fired(), 0);
});
