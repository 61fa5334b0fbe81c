/**
 * scenario — the scenario format (docs/scenario-format.md): parsing and
 * validating scenario files, formatting results, and the engine that runs a
 * scenario on the core (core-engine.ts). The reference engine (src/reference)
 * runs the same scenarios with an independent walker; exercise.ts generates
 * seeded exercises as scenarios (`x86mmu exercise`). Imports mmu and below,
 * and reference.
 */

export * from "./parse.js";
export * from "./format.js";
export * from "./core-engine.js";
export * from "./exercise.js";
export type * from "./types.js";
