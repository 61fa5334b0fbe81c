/**
 * reference — a second, deliberately simple page walker written from the
 * SDM's text with BigInt arithmetic and no caches: the readable model the
 * fast core is compared with (property tests, conformance corpus). It shares
 * no code with the core; it depends on arch only (and the scenario format's
 * types, type-only, since it runs scenarios).
 */

export * from "./engine.js";
export { PhysicalMemory as ReferenceMemory } from "./memory.js";
