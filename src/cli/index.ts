/**
 * cli — the `x86mmu` command (bin/x86mmu.js): `run` (scenarios, with
 * --trace), `explain` (a walk level by level, for teaching), `demo` (what
 * `npm start` shows). The top layer: imports every layer below it.
 */

export { main, OutputClosed } from "./main.js";
