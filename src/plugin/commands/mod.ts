/**
 * Every command handler in one table, for code that runs any command in one
 * process (the unit tests' harness). The plugin binary does not import this:
 * each of its programs (src/plugin/program/) loads one handler.
 * @module
 */
import type { CommandTable } from "../deps.ts";
import { cmdAdd } from "./add.ts";
import { cmdCheck } from "./check.ts";
import { cmdDel } from "./del.ts";
import { cmdGc } from "./gc.ts";
import { cmdStatus } from "./status.ts";

/** All handlers. */
export const ALL_COMMANDS: Readonly<CommandTable> = {
  ADD: cmdAdd,
  DEL: cmdDel,
  CHECK: cmdCheck,
  GC: cmdGc,
  STATUS: cmdStatus,
};
