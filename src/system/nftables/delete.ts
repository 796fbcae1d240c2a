/**
 * Deleting elements that may already be gone. A DELSETELEM of a missing
 * element fails the whole batch with ENOENT (kernels before 6.3 have no
 * DESTROYSETELEM), so a DEL that must succeed when everything is gone tries
 * one batch and, only when that says ENOENT, one batch per element ignoring
 * ENOENT: the common case stays one round trip.
 * @module
 */

import { ENOENT, isSetsErrno, type NftSets, type SetElementOp } from "./types.ts";

/**
 * Most deletes per batch: the kernel ACKs every message into the socket's
 * receive buffer, so a sweep of thousands goes in slices (not atomic as a
 * whole, which a tolerant delete never promised).
 */
export const MAX_DELETE_BATCH = 128;

/**
 * Deletes the elements of `ops` (delete ops), treating missing ones (and
 * missing sets) as done; in slices of MAX_DELETE_BATCH.
 */
export async function deleteIgnoringMissing(
  sets: NftSets,
  ops: readonly SetElementOp[],
): Promise<void> {
  for (let i = 0; i < ops.length; i += MAX_DELETE_BATCH) {
    await deleteSlice(sets, ops.slice(i, i + MAX_DELETE_BATCH));
  }
}

async function deleteSlice(sets: NftSets, ops: readonly SetElementOp[]): Promise<void> {
  const dels = ops.map((o) => ({ ...o, op: "delete" as const }));
  if (dels.length === 0) return;
  try {
    await sets.apply(dels);
    return;
  } catch (e) {
    if (!isSetsErrno(e, ENOENT)) throw e;
  }
  for (const op of dels) {
    try {
      await sets.apply([op]);
    } catch (e) {
      if (!isSetsErrno(e, ENOENT)) throw e;
    }
  }
}
