/**
 * Anti-spoofing per pod: pure payload rendering (render.ts) and the few nft
 * calls that apply, check and remove it (guard.ts).
 * @module
 */
export * from "./render.ts";
export * from "./guard.ts";
