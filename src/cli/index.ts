/**
 * cli — the `x86mmu` command (bin/x86mmu.js): `run` (scenarios, with
 * --trace), `explain` (a walk level by level, for teaching), `map` (a page
 * map as QEMU's info tlb / info mem print it, from a scenario or a memory
 * image), `exercise` (seeded exercises with answers), `demo` (what
 * `npm start` shows). The top layer: imports every layer below it.
 */

export { main, OutputClosed } from "./main.js";
