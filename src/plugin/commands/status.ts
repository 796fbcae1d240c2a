/**
 * STATUS: tells the runtime whether an ADD could be served now. Only the
 * IPAM backend can be unready (store unusable, every range exhausted); the
 * bridge is created by ADD itself.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import type { CommandContext } from "../deps.ts";
import { messageOf } from "../failure.ts";

/** Runs STATUS: resolves when ready, else error 50. */
export async function cmdStatus(ctx: CommandContext): Promise<void> {
  try {
    await ctx.ipam.status();
  } catch (e) {
    throw new CniError(
      CniCode.PluginNotAvailable,
      `Cannot serve ADD: ${messageOf(e)}`,
      e instanceof CniError ? `ipam error code ${e.code}` : "",
      { cause: e },
    );
  }
}
