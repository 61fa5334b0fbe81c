/**
 * inspect — looking at a machine from outside, as debuggers and emulators'
 * monitors do (QEMU's `info tlb`/`info mem`): the page map of an address
 * space (every mapped range with its effective rights) and reverse lookup
 * (which linear addresses reach a physical address). Reads page tables
 * through the Mmu's physical memory; changes nothing. Imports mmu and below.
 */

export * from "./page-map.js";
export * from "./page-leaves.js";
export * from "./qemu-monitor.js";
export * from "./registers-file.js";
