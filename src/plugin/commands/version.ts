/**
 * VERSION: the spec versions hostgate speaks. Needs no config and no
 * environment besides CNI_COMMAND.
 * @module
 */
import { versionInfo } from "../version.ts";

/** Runs VERSION: the object written to stdout. */
export function cmdVersion(): Record<string, unknown> {
  return versionInfo();
}
