/**
 * machine — several CPUs over one physical memory (issue 15; SDM 4.10.5 and
 * 8.1): each CPU with its own registers, TLB and paging-structure caches,
 * TLB shootdowns posted from one CPU and performed by the targets at their
 * next operation. Machine runs them in turn in one thread (deterministic,
 * for teaching and tests); SharedMachine runs each CPU as its own instance of
 * the core's threads build over a shared memory, in any thread or worker.
 * Imports mmu, phys, core, base, arch.
 */

export { Machine, Cpu, Shootdown, SwitchError, MAX_CPUS, type MachineOptions, type MachineSnapshot } from "./machine.js";
export type { Invalidation } from "./invalidation.js";
export { SharedMachine, SharedCpu, SharedShootdown, attachCpu, attachedCpus, type SharedMachineHandle, type SharedMachineOptions, type AttachOptions, type SharedSnapshot } from "./shared-machine.js";
