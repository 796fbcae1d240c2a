/**
 * The guard's effects: one `nft -f -` per ADD (payload on stdin, argv array),
 * one per DEL, a listing for CHECK and GC. Everything rendered comes from
 * render.ts; this file only talks to the Nft seam.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import type { Exec } from "../../system/exec.ts";
import { ExecNft, findNft, type Nft } from "../../system/nft.ts";
import { messageOf } from "../failure.ts";
import {
  GUARD_CHAIN_PATTERN,
  GUARD_TABLE,
  guardProblem,
  type GuardSpec,
  parseGuardTable,
  renderGuardAdd,
  renderGuardRemove,
} from "./render.ts";

/** Installs (or replaces) the guard of one attachment. */
export async function applyGuard(nft: Nft, spec: GuardSpec): Promise<void> {
  try {
    await nft.apply(renderGuardAdd(spec));
  } catch (e) {
    throw new CniError(
      CniCode.Internal,
      `Cannot install anti-spoofing for ${spec.hostVeth}: ${messageOf(e)}`,
      "the plugin needs nft (nftables) with the netdev family",
      { cause: e },
    );
  }
}

/** Removes the guards of `hostVeths` (absent ones are fine). */
export async function removeGuards(nft: Nft, hostVeths: readonly string[]): Promise<void> {
  const payload = renderGuardRemove(hostVeths);
  if (payload === "") return;
  try {
    await nft.apply(payload);
  } catch (e) {
    throw new CniError(
      CniCode.Internal,
      `Cannot remove anti-spoofing ${hostVeths.join(", ")}: ${messageOf(e)}`,
      "",
      { cause: e },
    );
  }
}

/** The names of the guard chains in the kernel (only names the plugin makes). */
export async function listGuards(nft: Nft): Promise<string[]> {
  const text = await nft.listTable(GUARD_TABLE.family, GUARD_TABLE.name);
  return [...parseGuardTable(text).keys()].filter((n) => GUARD_CHAIN_PATTERN.test(n));
}

/** CHECK: what differs between the kernel and `spec`, or undefined. */
export async function checkGuard(nft: Nft, spec: GuardSpec): Promise<string | undefined> {
  const text = await nft.listTable(GUARD_TABLE.family, GUARD_TABLE.name);
  return guardProblem(parseGuardTable(text).get(spec.hostVeth), spec);
}

/** The guard's nft: the one handed in (tests), else the real binary run through `exec`. */
export function guardNftOf(deps: { guardNft?: Nft; exec: Exec }): Nft {
  return deps.guardNft ?? new ExecNft({ exec: deps.exec, timeoutMs: 10_000, program: findNft() });
}
