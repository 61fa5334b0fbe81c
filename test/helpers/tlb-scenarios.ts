/**
 * What the TLB-step and several-CPU scenario tests share: the repository's
 * root (for examples/), a run that gives formatted results, and the tables
 * both build on.
 */
import { fileURLToPath } from "node:url";
import { CoreEngine, formatResult, parseScenario } from "../../src/index.js";

export const root = fileURLToPath(new URL("../..", import.meta.url));
const engine = new CoreEngine();
export const run = (s: object) => formatResult(engine.run(parseScenario(s))) as { results: Record<string, unknown>[]; memory: unknown[] };

/** PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000; va 0x0 -> 0x5000 (user, writable), va 0x1000 -> 0x7000 (global, G=1). */
export const tables = [
  { paddr: "0x1000", qwords: ["0x2007"] },
  { paddr: "0x2000", qwords: ["0x3007"] },
  { paddr: "0x3000", qwords: ["0x4007"] },
  { paddr: "0x4000", qwords: ["0x5007", "0x7107"] },
];
