import assert from "node:assert/strict";
import { RealClock } from "../../system/clock.ts";
import { FakeNftJson } from "../../system/fake_nft_json.ts";
import { memoryLogger } from "../../system/log.ts";
import { M, Metrics } from "../observe/metrics.ts";
import { runPolicyEnforcer } from "./enforcer.ts";
import { type PolicySource, ProjectedStore } from "./source.ts";
import type { PolicyInput } from "./types.ts";

/** A source the test drives: set objects, fire. */
class ManualSource implements PolicySource {
  readonly store = new ProjectedStore();
  synced = false;
  fire: () => void = () => {};
  start(onChange: () => void): Promise<void> {
    this.fire = onChange;
    return Promise.resolve();
  }
  input(): PolicyInput | undefined {
    return this.synced ? this.store.input() : undefined;
  }
  rejected(): Map<string, string[]> {
    return new Map(this.store.rejected);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function until(what: string, fn: () => boolean): Promise<void> {
  const end = Date.now() + 3000;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`Cannot see ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("enforcer: nothing written until the source has read everything; then events apply", async () => {
  const src = new ManualSource();
  const nft = new FakeNftJson();
  const metrics = new Metrics();
  const log = memoryLogger();
  const ac = new AbortController();
  let passes = 0;
  const loop = runPolicyEnforcer({
    source: src,
    nft,
    nodeName: "n1",
    clock: new RealClock(),
    log,
    metrics,
    signal: ac.signal,
    debounceMs: 1,
    resyncIntervalMs: 60_000,
    retryMinMs: 5,
    retryMaxMs: 50,
    onPass: () => passes++,
  });
  try {
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(nft.payloads.length, 0, "an unknown state writes nothing");
    src.store.apply("Pod", "set", {
      metadata: { namespace: "x", name: "a", labels: { app: "w" } },
      spec: { nodeName: "n1" },
      status: { podIP: "10.244.1.5" },
    });
    src.store.apply("NetworkPolicy", "set", {
      metadata: { namespace: "x", name: "deny" },
      spec: { podSelector: {}, policyTypes: ["Ingress"] },
    });
    src.store.apply("NetworkPolicy", "set", {
      metadata: { namespace: "x", name: "bad" },
      spec: { podSelector: 7 },
    });
    src.synced = true;
    src.fire();
    await until("the table", () => nft.elements("ingress4").includes("10.244.1.5"));
    assert.equal(metrics.value(M.policies), 1);
    assert.equal(metrics.value(M.policyRejected), 1);
    assert.match(log.lines.map((l) => l.text).join("\n"), /NetworkPolicy input refused/);
    src.store.apply("NetworkPolicy", "delete", { metadata: { namespace: "x", name: "deny" } });
    src.fire();
    await until("the element gone", () => nft.elements("ingress4").length === 0);
    assert.ok(passes >= 2);
  } finally {
    ac.abort();
    await loop;
  }
});
