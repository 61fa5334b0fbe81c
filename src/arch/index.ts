/**
 * arch — the x86 architecture as data: bit positions and field layouts of the
 * paging registers, entries and error codes (Intel SDM Vol. 3A ch. 4), the
 * core's ABI constants (shared with assembly/, which imports nothing else from
 * src/), and the paging rules stated in words for people (rules.ts: one table
 * that `run --trace`, `explain`, the page map and the web page all quote).
 * Imports nothing.
 */

export * from "./bits.js";
export * from "./abi.js";
export * from "./rules.js";
