/**
 * machine — several CPUs over one physical memory (issue 15; SDM 4.10.5 and
 * 8.1): each CPU with its own registers, TLB and paging-structure caches,
 * TLB shootdowns posted from one CPU and performed by the targets at their
 * next operation. One thread runs them in turn (deterministic, for teaching
 * and tests). Imports mmu, phys, core, base, arch.
 */

export { Machine, Cpu, Shootdown, SwitchError, MAX_CPUS, type MachineOptions, type MachineSnapshot } from "./machine.js";
export type { Invalidation } from "./invalidation.js";
