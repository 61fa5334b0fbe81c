/**
 * phys — the physical address space an MMU translates into: RAM as a sparse
 * store of 4 KiB frames (PhysicalMemory), the bus that sends an access to RAM,
 * to a memory-mapped device or through access hooks, the physical layout,
 * and the write journal's two users: the dirty log and copy-on-write
 * snapshots. Nothing here knows about paging. Imports arch, base and core.
 */

export * from "./physical-memory.js";
export * from "./bus.js";
export * from "./snapshot.js";
export * from "./image.js";
export { copyFromLinear } from "./linear-copy.js";
