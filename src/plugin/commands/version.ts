/**
 * VERSION: the spec versions hostgate speaks. Needs no config and no
 * environment besides CNI_COMMAND.
 * @module
 */
import { versionInfo } from "../../cni/mod.ts";

/** Runs VERSION: the object written to stdout. */
export function cmdVersion(): Record<string, unknown> {
  return versionInfo();
}
