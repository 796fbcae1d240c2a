/**
 * hostPort mappings built into hostgate: the table's definition and each
 * pod's elements (render.ts, pure), their in-process encoding (elements.ts),
 * and the steps applying, removing, checking and collecting them (ports.ts).
 * @module
 */
export * from "./render.ts";
export * from "./elements.ts";
export * from "./ports.ts";
