/**
 * hostPort mappings built into hostgate: payload rendering (pure) and the
 * steps applying, removing, checking and collecting them.
 * @module
 */
export * from "./render.ts";
export * from "./ports.ts";
