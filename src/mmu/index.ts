/**
 * mmu — linear to physical (Intel SDM Vol. 3A ch. 4): the `Mmu` class (the
 * paging registers and the instructions that change them, translate, probe,
 * translated reads and writes), register validation (registers.ts), access
 * encoding (access.ts), batches (batch.ts), fault recovery through handlers
 * (fault-recovery.ts), page-table building (page-table.ts; the 32-bit and
 * PAE formats in legacy-page-table.ts) and the copy
 * engine that moves bytes page by page (copy.ts). Imports phys, core, base,
 * arch.
 */

export * from "./mmu.js";
export * from "./page-table.js";
export * from "./legacy-page-table.js";
export * from "./access.js";
// For the layers above (ostd's copies), not re-exported by the package:
export * from "./copy.js";
export { coreOf } from "./internals.js";
