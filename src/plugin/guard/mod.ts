/**
 * Anti-spoofing per pod: a fixed shared ruleset (render.ts), the pod's set
 * elements (elements.ts), their effects (guard.ts) and the removal of the
 * per-veth chains of earlier versions (legacy.ts).
 * @module
 */
export * from "./render.ts";
export * from "./elements.ts";
export * from "./legacy.ts";
export * from "./guard.ts";
