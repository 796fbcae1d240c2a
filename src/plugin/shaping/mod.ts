/**
 * Pod bandwidth limits built into hostgate: tc commands (pure) and the steps
 * applying, removing, checking and collecting them.
 * @module
 */
export * from "./render.ts";
export * from "./shaping.ts";
