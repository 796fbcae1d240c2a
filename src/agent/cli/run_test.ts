import assert from "node:assert/strict";
import { until } from "../../system/fake_clock.ts";
import { IptablesDriver } from "../firewall/mod.ts";
import type { Reconciler } from "../reconcile/mod.ts";
import { runAgent } from "./run.ts";
import { renderGuardDefinition } from "../../plugin/guard/render.ts";
import { FakeGuardNft } from "../../plugin/guard/testing.ts";
import { fakeNode, FakeWatches, peer, routesOf } from "../testing/mod.ts";

Deno.test("run: converges, follows datastore events, repairs a deleted route, stops cleanly", async () => {
  const n = fakeNode({
    peers: [peer("b", 2)],
    flags: ["--health-addr=", "--resync-interval=1h", "--debounce=1ms"],
  });
  const ac = new AbortController();
  let last: Reconciler | undefined;
  const done = runAgent({
    config: n.config,
    netlink: n.nl,
    datastore: n.ds,
    firewall: new IptablesDriver({ v4: n.v4, v6: n.v6 }),
    fs: n.fs,
    clock: n.clock,
    log: n.log,
    metrics: n.metrics,
    signal: ac.signal,
    onPass: (r) => last = r,
  });
  try {
    const clock = { clock: n.clock, stepMs: 1 };
    await until("ready", () => last?.last?.ready === true, clock);
    assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
    // A datastore event (no timer: the resync interval is an hour).
    n.ds.setNode(peer("c", 3));
    await until("c's route", () => routesOf(n.handle).length === 2, clock);
    // A route deleted behind the agent's back: the monitor sees it and a pass repairs it.
    n.handle.deleteRoute({
      family: 4,
      dst: "10.244.3.0/24",
      gateway: "192.168.1.13",
      protocol: 151,
    });
    await until(
      "repair",
      () => routesOf(n.handle).includes("10.244.3.0/24 via 192.168.1.13"),
      clock,
    );
    assert.ok(n.metrics.value("hostgate_route_monitor_events_total", { kind: "delete" }) >= 1);
  } finally {
    ac.abort();
    await done;
  }
  assert.equal(n.ds.closed, true);
  assert.deepEqual(routesOf(n.handle).length, 2, "routes stay after a stop");
});

/** Starts the agent on fake node `n` with `config`; returns the stop function. */
function start(
  n: ReturnType<typeof fakeNode>,
  config = n.config,
  extra: Partial<Parameters<typeof runAgent>[0]> = {},
) {
  const ac = new AbortController();
  const passes: boolean[] = [];
  const done = runAgent({
    ...extra,
    config,
    netlink: n.nl,
    datastore: n.ds,
    firewall: new IptablesDriver({ v4: n.v4, v6: n.v6 }),
    fs: n.fs,
    clock: n.clock,
    log: n.log,
    metrics: n.metrics,
    signal: ac.signal,
    onPass: (r) => {
      passes.push(r.last?.errors.length === 0);
      extra.onPass?.(r);
    },
  });
  return {
    passes,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

Deno.test("run: a failed pass is retried after retry-min; a failed monitor is restarted", async () => {
  const n = fakeNode({
    peers: [peer("b", 2)],
    flags: [
      "--health-addr=",
      "--resync-interval=1h",
      "--debounce=0s",
      "--retry-min=2s",
      "--retry-max=8s",
    ],
  });
  n.v4.failNextSave();
  n.nl.failNext("monitorRoutes", new Error("Cannot open the route monitor: injected"));
  const a = start(n);
  try {
    const step = { clock: n.clock, stepMs: 100 };
    await until("the first pass", () => a.passes.length === 1, step);
    assert.deepEqual(a.passes, [false], "the injected iptables-save failure");
    assert.ok(
      n.log.lines.some((l) => l.level === "warn" && l.msg === "resync incomplete; retrying"),
    );
    assert.ok(n.log.lines.some((l) => l.msg === "route monitor failed; restarting"));
    // The monitor's failure asked for a pass too, but the retry waits out its backoff.
    await n.clock.advance(1_500);
    assert.equal(a.passes.length, 1, "no retry before retry-min");
    await until("the retry", () => a.passes.length === 2, step);
    assert.deepEqual(a.passes, [false, true]);
    assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
    // The restarted monitor still sees a route deleted behind the agent's back.
    assert.equal(n.nl.callsOf("monitorRoutes").length, 2);
    n.handle.deleteRoute({
      family: 4,
      dst: "10.244.2.0/24",
      gateway: "192.168.1.12",
      protocol: 151,
    });
    await until("repair", () => routesOf(n.handle).length === 1, step);
  } finally {
    await a.stop();
  }
});

Deno.test("run: a plugin that cannot be installed is logged; the agent still routes", async () => {
  const n = fakeNode({ peers: [peer("b", 2)], flags: ["--health-addr=", "--debounce=0s"] });
  const a = start(n, { ...n.config, pluginSrc: "/nowhere/hostgate" });
  try {
    await until("the first pass", () => a.passes.length >= 1, { clock: n.clock });
    assert.ok(
      n.log.lines.some((l) => l.level === "error" && l.msg === "Cannot install the plugin"),
      n.log.lines.map((l) => l.text).join("\n"),
    );
    assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  } finally {
    await a.stop();
  }
});

Deno.test("run: with --ippool-kubeconfig the plugin's kubeconfig follows the token", async () => {
  const n = fakeNode({ flags: ["--health-addr=", "--debounce=0s", "--resync-interval=10s"] });
  const sa = "/var/run/secrets/hostgate.io/plugin";
  n.fs.setFile(`${sa}/token`, "first");
  n.fs.setFile(`${sa}/ca.crt`, "CA");
  const path = "/etc/cni/net.d/hostgate-kubeconfig";
  const a = start(n, {
    ...n.config,
    ippoolKubeconfig: path,
    kubernetesApi: "https://10.96.0.1:443",
  });
  try {
    const step = { clock: n.clock, stepMs: 1_000 };
    await until("the kubeconfig", () => n.fs.file(path)?.includes("first") === true, step);
    n.fs.setFile(`${sa}/token`, "rotated");
    await until("the rotated token", () => n.fs.file(path)?.includes("rotated") === true, step);
    assert.equal(n.fs.modeOf(path), 0o600);
  } finally {
    await a.stop();
  }
});

Deno.test("run: a conflist or plugin removed by hand is put back after one debounce", async () => {
  const n = fakeNode({ flags: ["--health-addr=", "--debounce=50ms", "--resync-interval=1h"] });
  const watches = new FakeWatches();
  const a = start(n, n.config, { openWatch: watches.open });
  const conflist = "/etc/cni/net.d/10-hostgate.conflist";
  try {
    const step = { clock: n.clock, stepMs: 10 };
    await until("the first pass", () => a.passes.length >= 1, step);
    await n.clock.advance(1_000); // its own registration asks for one more
    const settled = a.passes.length;
    assert.equal(watches.opened, 2, "the conflist and plugin directories");
    const written = n.fs.file(conflist)!;
    await n.fs.remove(conflist);
    watches.event("/etc/cni/net.d", "/etc/cni/net.d/99-other.conflist");
    await n.clock.advance(1_000);
    assert.equal(a.passes.length, settled, "another file: no pass");
    watches.event("/etc/cni/net.d", conflist);
    await until("the repair", () => n.fs.file(conflist) === written, step);
    assert.equal(a.passes.length, settled + 1);
    await n.fs.remove("/opt/cni/bin/hostgate");
    watches.event("/opt/cni/bin", "/opt/cni/bin/hostgate");
    await until("the plugin back", () => n.fs.file("/opt/cni/bin/hostgate") !== undefined, step);
  } finally {
    await a.stop();
  }
});

Deno.test("run: --install-plugin=false never writes the plugin; a missing one is not ready", async () => {
  const n = fakeNode({
    flags: ["--health-addr=", "--debounce=1ms", "--resync-interval=1h", "--install-plugin=false"],
  });
  const watches = new FakeWatches();
  let last: Reconciler | undefined;
  const a = start(n, n.config, { openWatch: watches.open, onPass: (r) => last = r });
  try {
    const step = { clock: n.clock, stepMs: 10 };
    await until("the first pass", () => last !== undefined, step);
    await n.clock.advance(1_000);
    assert.equal(n.fs.file("/opt/cni/bin/hostgate"), undefined, "nothing installed");
    assert.equal(n.metrics.value("hostgate_plugin_installs_total"), 0);
    const notReady = last!.last?.notReady ?? [];
    assert.ok(
      notReady.some((r) => r.includes("the plugin is missing in /opt/cni/bin")),
      JSON.stringify(notReady),
    );
  } finally {
    await a.stop();
  }
});

Deno.test("run: the plugin's anti-spoofing tables are defined at start; a failure only warns", async () => {
  for (const fail of [false, true]) {
    const n = fakeNode({
      peers: [peer("b", 2)],
      flags: ["--health-addr=", "--resync-interval=1h", "--debounce=1ms"],
    });
    const guardNft = new FakeGuardNft();
    if (fail) guardNft.failNext();
    const a = start(n, n.config, { guardNft });
    try {
      await until("the first pass", () => a.passes.length >= 1, { clock: n.clock, stepMs: 1 });
      assert.deepEqual(guardNft.definitions, [renderGuardDefinition(n.config.podMode)]);
      assert.equal(guardNft.sets.hasTableSync("inet", "hostgate-guard"), !fail);
      const warned = n.log.lines.some((l) =>
        l.level === "warn" && l.msg.startsWith("Cannot define the anti-spoofing tables")
      );
      assert.equal(warned, fail);
      assert.deepEqual(a.passes, [true], "routing goes on either way");
    } finally {
      await a.stop();
    }
  }
});
