/**
 * One level-triggered pass (like kindnet), as a short list of named steps
 * (steps.ts): read → trust → desired → apply → report. Every trigger
 * (datastore event, route monitor, timer) just asks for another pass, so a
 * second pass over unchanged input writes nothing. The pass keeps going past
 * a failed step and reports all errors, so a broken datastore never stops
 * route repair for known nodes; deletions need an authoritative node list.
 * With the vxlan and auto backends the pass also keeps hostgate's vxlan
 * device and the tunnelled peers' neighbour and FDB entries in line.
 * @module
 */
import type { RouteEvent } from "../../system/netlink/types.ts";
import {
  type DesiredState,
  type PeerPlan,
  SKIP_REASONS,
  type SkipReason,
} from "./desired_state.ts";
import { M, readPodFeatures, setPodFeatureMetrics } from "../observe/mod.ts";
import { type RouteApplyResult, RouteExpectation } from "../routes/mod.ts";
import { passCache } from "./pass_cache.ts";
import { sameVtep } from "../vxlan/mod.ts";
import { SelfRegistration } from "./registration.ts";
import { PassTally } from "./pass.ts";
import { RejectReporter } from "./trust_report.ts";
import { acceptedOwners, type Reject } from "./trust.ts";
import {
  applyBridge,
  applyConflist,
  applyForwarding,
  applyPlugin,
  applyRoutesAndTunnels,
  applyRules,
  applySecretModes,
  applyVxlanDevice,
  desiredStep,
  firewallSpecOf,
  mayDelete,
  mtuOf,
  readStep,
  reportStep,
  type StepDeps,
  trustStep,
} from "./steps.ts";

export type { ReconcileConfig } from "./steps.ts";

/** What the reconciler is given. */
export interface ReconcilerDeps extends Omit<StepDeps, "self" | "expected"> {
  /** Called on every datastore change; the run loop passes its trigger. */
  onDatastoreChange: () => void;
}

/** Outcome of one pass. */
export interface ResyncResult {
  /** Number of kernel/file writes this pass made (0 when everything was in line). */
  writes: number;
  routes: RouteApplyResult;
  firewallWrote: boolean;
  conflistWrote: boolean;
  errors: Error[];
  ready: boolean;
  /** Why not ready, when not. */
  notReady: string[];
  desired: DesiredState;
  /** Values the trust gate refused in this pass. */
  rejects: Reject[];
  /** Whether the datastore was connected when the pass read it. */
  datastoreConnected: boolean;
  /** True when the pass could delete (authoritative list with this node in it). */
  deleted: boolean;
}

/** Runs passes; keeps registration, reject reporting and readiness state between them. */
export class Reconciler {
  readonly #d: ReconcilerDeps;
  readonly #self: SelfRegistration;
  readonly #rejects: RejectReporter;
  #skippedKey = "";
  #last: ResyncResult | undefined;
  readonly #expected = new RouteExpectation();
  /** When the rules were last found (or made) right; undefined until then. */
  #rulesOkAt: number | undefined;
  #vxlanIndex: number | undefined;
  /** The rule spec last synced. */
  #rulesKey = "";
  /** Subnet -> owner the last pass kept: the incumbents of equal claims. */
  #accepted: Map<string, string> | undefined;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
    this.#self = new SelfRegistration({
      nodeName: deps.config.nodeName,
      datastore: deps.datastore,
      log: deps.log,
      clock: deps.clock,
      onDatastoreChange: deps.onDatastoreChange,
    });
    this.#rejects = new RejectReporter(deps);
  }

  /**
   * True when a route monitor event is this agent's own write echoed back (or
   * otherwise needs no pass); see route_echo.ts.
   */
  isEcho(ev: RouteEvent): boolean {
    return this.#expected.isEcho(ev);
  }

  /** ifindex of hostgate's vxlan device at the last pass (its neighbour events matter). */
  get vxlanIndex(): number | undefined {
    return this.#vxlanIndex;
  }

  /** The result of the last pass, for status. */
  get last(): ResyncResult | undefined {
    return this.#last;
  }

  /**
   * Readiness now: the last pass's reasons, with the datastore's state read
   * live, so /readyz turns 503 as soon as the store is lost (not a pass
   * later) and 200 only after one full pass with the store back.
   */
  readiness(): { ready: boolean; reasons: string[] } {
    const last = this.#last;
    if (!last) return { ready: false, reasons: ["no reconcile pass yet"] };
    const h = this.#d.datastore.health();
    const reasons = last.notReady.filter((r) => !r.startsWith("datastore not connected"));
    if (!h.connected) reasons.unshift(`datastore not connected: ${h.lastError ?? "unknown"}`);
    else if (!last.datastoreConnected) reasons.unshift("datastore back; waiting for a full pass");
    return { ready: reasons.length === 0, reasons };
  }

  /** One full pass. Never throws: errors are in the result. */
  async resync(): Promise<ResyncResult> {
    const d: StepDeps = {
      ...this.#d,
      handle: passCache(this.#d.handle),
      self: this.#self,
      expected: this.#expected,
    };
    const cfg = d.config;
    const t0 = d.clock.monotonic();
    const pass = new PassTally(d.log);

    // read → trust
    let observed = await readStep(d, pass);
    let trusted = trustStep(cfg, observed, this.#accepted);
    await applyForwarding(d, pass);
    const selfOf = (t: typeof trusted) => t.nodes.find((n) => n.name === cfg.nodeName);
    const device = await applyVxlanDevice(d, pass, {
      uplink: observed.uplink,
      selfPodCidrs: [...(selfOf(trusted)?.podCidrs ?? [])],
    });
    this.#vxlanIndex = device?.link?.index;
    if (device?.vtep && !sameVtep(device.vtep, this.#self.vtep)) {
      await pass.step(
        "register with the datastore",
        () => this.#self.ensure(observed.nodeIps, device.vtep),
      );
      observed = { ...observed, nodes: this.#self.nodes() };
      trusted = trustStep(cfg, observed, this.#accepted);
    }
    this.#accepted = acceptedOwners(trusted);
    this.#rejects.report(trusted.rejects);
    // desired
    const desired = desiredStep(cfg, {
      observed,
      trusted,
      vxlanLinkIndex: device?.link?.index,
      ...(device?.vtep ? { selfVtep: device.vtep } : {}),
    });
    this.#reportSkipped(desired.peers);
    // diff + apply
    const allowDelete = mayDelete(observed, desired);
    const routes = await applyRoutesAndTunnels(d, pass, { desired, allowDelete, device });
    const mtu = mtuOf(cfg, observed.uplink);
    await applyBridge(d, pass, { desired, mtu, allowDelete });
    const now = d.clock.monotonic();
    // Rules are re-read once per resync interval, or at once when what they depend on changed
    // (the VXLAN guard follows the peer set).
    const spec = firewallSpecOf(cfg, desired);
    const specKey = JSON.stringify(spec);
    const firewallWrote = await applyRules(d, pass, {
      spec,
      due: this.#rulesOkAt === undefined || now - this.#rulesOkAt >= cfg.resyncIntervalMs ||
        specKey !== this.#rulesKey,
      onOk: () => {
        this.#rulesOkAt = now;
        this.#rulesKey = specKey;
      },
    });
    await applyPlugin(d, pass);
    await applySecretModes(d, pass);
    const conflistWrote = await applyConflist(d, pass, { desired, mtu });
    await pass.step(
      "count pod hostPorts and limits",
      async () => setPodFeatureMetrics(d.metrics, await readPodFeatures(d.fs, cfg)),
    );
    // report
    const seconds = (d.clock.monotonic() - t0) / 1000;
    reportStep(d, pass, { health: observed.health, seconds });
    const result: ResyncResult = {
      writes: pass.writes,
      routes,
      firewallWrote,
      conflistWrote,
      errors: pass.errors,
      ready: pass.notReady.length === 0,
      notReady: pass.notReady,
      desired,
      rejects: trusted.rejects,
      datastoreConnected: observed.health.connected,
      deleted: allowDelete,
    };
    this.#last = result;
    d.log.debug("resync done", {
      writes: pass.writes,
      ms: Math.round(seconds * 1000),
      errors: pass.errors.length,
    });
    return result;
  }

  /** Forces the rules to be re-read on the next pass (a chain was changed by hand). */
  rulesChanged(): void {
    this.#rulesOkAt = undefined;
  }

  #reportSkipped(peers: PeerPlan[]): void {
    const skipped = peers.filter((p) => p.mode === "skip");
    const key = skipped.map((p) => `${p.name}/${p.family}/${p.reason}/${p.nodeIp}`).join(";");
    const { metrics, log } = this.#d;
    for (const reason of SKIP_REASONS) {
      const n = skipped.filter((p) => p.reason === reason).length;
      metrics.set(M.peersSkipped, n, { reason });
    }
    if (key === this.#skippedKey) return;
    this.#skippedKey = key;
    for (const p of skipped) {
      const why = SKIP_WHY[p.reason!] ?? p.reason!;
      log.warn("peer skipped: no route", {
        peer: p.name,
        family: `ipv${p.family}`,
        nodeIp: p.nodeIp ?? "",
        subnet: p.podCidr ?? "",
        reason: p.reason!,
        why,
      });
    }
  }
}

/** Log text of the skip reasons that need one. */
const SKIP_WHY: Partial<Record<SkipReason, string>> = {
  "not-on-link":
    "its node IP is not inside any connected subnet of this node (host-gw needs one L2 segment; try --backend auto)",
  "no-vtep":
    "it announces no usable VTEP (it runs --backend host-gw, or has not set up its device)",
  "duplicate-vtep": "another node announces the same VTEP address or MAC",
  "vxlan-unavailable": "this node's vxlan device is not in place",
};
