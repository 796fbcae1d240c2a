/**
 * The guard's effects: per pod, one in-process element batch (ADD), one
 * tolerant element delete (DEL), element lookups (CHECK), a sweep (GC). The
 * fixed tables are installed with `nft -f -` only when a write finds them
 * missing; DEL, CHECK and GC never create them. The legacy per-veth netdev
 * chains are removed only where the cheap table lookup says they exist.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import type { Exec } from "../../system/exec.ts";
import { ExecNft, findNft, type Nft } from "../../system/nft.ts";
import {
  deleteIgnoringMissing,
  EEXIST,
  ENOENT,
  isSetsErrno,
  type NftSets as ElementSets,
  type SetElementOp,
} from "../../system/nftables/mod.ts";
import { messageOf } from "../failure.ts";
import type { Tracer } from "../trace.ts";
import { describeElement, guardOps, guardRef, type GuardSpec, hostVethOfKey } from "./elements.ts";
import { LEGACY_TABLE, parseLegacyChains, renderLegacyRemove } from "./legacy.ts";
import {
  ALL_GUARD_TABLES,
  GUARD_NAME,
  GUARD_TABLES,
  type GuardMode,
  type GuardSet,
  type GuardTable,
  renderGuardDefinition,
} from "./render.ts";

/** What the guard talks to. */
export interface GuardDeps {
  /** In-process set elements (the node's netns). */
  sets: ElementSets;
  /** `nft -f -` for the definition and the legacy chains. */
  nft: Nft;
  trace?: Tracer;
}

function span<T>(d: GuardDeps, name: string, fn: () => Promise<T>): Promise<T> {
  return d.trace ? d.trace.span(name, fn) : fn();
}

/** Removes the legacy chains of `hostVeths` when the legacy table exists (one lookup otherwise). */
async function removeLegacy(d: GuardDeps, hostVeths: readonly string[]): Promise<void> {
  if (!await d.sets.hasTable(LEGACY_TABLE.family, LEGACY_TABLE.name)) return;
  await d.nft.apply(renderLegacyRemove(hostVeths));
}

/**
 * Installs the guard of one attachment: one atomic element batch. When a
 * table or set is missing (ENOENT), the tables of `mode` are defined and the
 * batch is written again. When the veth is guarded already (EEXIST: elements
 * an earlier pod of the same name left, which may hold other MACs or
 * addresses), that veth's elements are removed first and the batch is
 * written again, so a pod is never allowed anything of its predecessor.
 */
export async function applyGuard(d: GuardDeps, spec: GuardSpec, mode: GuardMode): Promise<void> {
  const ops = guardOps(spec, mode, "add");
  try {
    await span(d, "guard: add elements", async () => {
      for (let attempt = 0;; attempt++) {
        try {
          await d.sets.apply(ops);
          return;
        } catch (e) {
          if (attempt >= 2) throw e;
          if (isSetsErrno(e, ENOENT)) {
            await span(
              d,
              "guard: define tables (nft)",
              () => d.nft.apply(renderGuardDefinition(mode)),
            );
          } else if (isSetsErrno(e, EEXIST)) {
            const stale = await sweepOps(d.sets, GUARD_TABLES[mode], (v) => v === spec.hostVeth);
            await deleteIgnoringMissing(d.sets, stale);
          } else throw e;
        }
      }
    });
    await span(d, "guard: legacy check", () => removeLegacy(d, [spec.hostVeth]));
  } catch (e) {
    throw new CniError(
      CniCode.Internal,
      `Cannot install anti-spoofing for ${spec.hostVeth}: ${messageOf(e)}`,
      "the plugin needs nftables (inet and arp families in routed mode, bridge in bridge mode)",
      { cause: e },
    );
  }
}

/** The delete ops of every element of `tables` whose host veth passes `match`. */
async function sweepOps(
  sets: ElementSets,
  tables: readonly GuardTable[],
  match: (hostVeth: string) => boolean,
): Promise<SetElementOp[]> {
  const out: SetElementOp[] = [];
  for (const t of tables) {
    for (const set of t.sets) {
      let elements;
      try {
        elements = await sets.list(guardRef(t, set));
      } catch (e) {
        if (isSetsErrno(e, ENOENT)) break; // no such table (or set): nothing of it to remove
        throw e;
      }
      for (const el of elements) {
        if (match(hostVethOfKey(el.key))) {
          out.push({ op: "delete", ...guardRef(t, set), key: el.key });
        }
      }
    }
  }
  return out;
}

/** What DEL knows of an attachment: its host veth, and its MAC and addresses when known. */
export interface GuardRemoval {
  hostVeth: string;
  containerId: string;
  ifname: string;
  mac?: string;
  ips?: readonly string[];
}

/**
 * Removes one attachment's guard; succeeds when it is already gone and never
 * creates a table. With the MAC and addresses known, one batch of deletes
 * (per element only when some are missing); otherwise every element of the
 * mode's tables whose host veth is this one.
 */
export async function removeGuard(d: GuardDeps, r: GuardRemoval, mode: GuardMode): Promise<void> {
  try {
    await span(d, "guard: delete elements", async () => {
      if (r.mac !== undefined && r.ips !== undefined) {
        const spec = { ...r, mac: r.mac, ips: r.ips };
        await deleteIgnoringMissing(d.sets, guardOps(spec, mode, "delete"));
      } else {
        const ops = await sweepOps(d.sets, GUARD_TABLES[mode], (v) => v === r.hostVeth);
        await deleteIgnoringMissing(d.sets, ops);
      }
    });
    await span(d, "guard: legacy check", () => removeLegacy(d, [r.hostVeth]));
  } catch (e) {
    throw new CniError(
      CniCode.Internal,
      `Cannot remove anti-spoofing of ${r.hostVeth}: ${messageOf(e)}`,
      "",
      { cause: e },
    );
  }
}

/**
 * GC: removes every guard element (all tables, both modes) and every legacy
 * chain whose host veth is not in `keep`, and the legacy table once empty.
 * Returns the host veths whose guard was removed.
 */
export async function gcGuards(d: GuardDeps, keep: ReadonlySet<string>): Promise<string[]> {
  const stale = (v: string) => !keep.has(v);
  const ops = await sweepOps(d.sets, ALL_GUARD_TABLES, stale);
  await deleteIgnoringMissing(d.sets, ops);
  const removed = new Set(ops.map((o) => hostVethOfKey(o.key)));
  if (await d.sets.hasTable(LEGACY_TABLE.family, LEGACY_TABLE.name)) {
    const chains = parseLegacyChains(await d.nft.listTable(LEGACY_TABLE.family, LEGACY_TABLE.name));
    const gone = chains.filter(stale);
    await d.nft.apply(renderLegacyRemove(gone, gone.length === chains.length));
    for (const c of gone) removed.add(c);
  }
  return [...removed].sort();
}

/**
 * CHECK: what is missing of `spec`'s guard in the kernel, or undefined when
 * every element is in place.
 */
export function checkGuard(
  d: GuardDeps,
  spec: GuardSpec,
  mode: GuardMode,
): Promise<string | undefined> {
  return span(d, "guard: look up elements", () => findMissing(d, spec, mode));
}

async function findMissing(
  d: GuardDeps,
  spec: GuardSpec,
  mode: GuardMode,
): Promise<string | undefined> {
  for (const op of guardOps(spec, mode, "add")) {
    const where = `set ${op.family} ${GUARD_NAME} ${op.set}`;
    let found;
    try {
      found = await d.sets.get(op, op.key);
    } catch (e) {
      if (isSetsErrno(e, ENOENT)) return `anti-spoofing ${where} is missing`;
      throw e;
    }
    if (!found) {
      const what = describeElement(op.set as GuardSet, op.key);
      return `anti-spoofing of ${spec.hostVeth}: ${what} is missing from ${where}`;
    }
  }
  return undefined;
}

/** The guard's dependencies from the plugin's: the in-process sets and nft (real binary by default). */
export function guardDepsOf(
  deps: { guardSets?: ElementSets; guardNft?: Nft; exec: Exec; trace?: Tracer },
): GuardDeps {
  if (!deps.guardSets) {
    throw new Error("Cannot use anti-spoofing: no nftables set access in this program");
  }
  const out: GuardDeps = {
    sets: deps.guardSets,
    nft: deps.guardNft ??
      new ExecNft({ exec: deps.exec, timeoutMs: 10_000, program: findNft() }),
  };
  if (deps.trace) out.trace = deps.trace;
  return out;
}
