/**
 * Where a CPU's own buffers live (its TLB, PDE cache, frame cache, rights
 * table, traces, mailbox, counters, PDPTE registers).
 *
 * The core is built twice. build/core.wasm owns its memory: one instance is
 * one CPU, and each buffer is a static block. build/core.threads.wasm
 * (`--enable threads --sharedMemory --importMemory`) is instantiated once
 * per CPU over one shared memory, in as many workers as the host likes;
 * static blocks are then shared by every instance, so each per-CPU buffer is
 * carved instead from this CPU's slot of one static zone, the slot number
 * being imported (env.cpuSlot) when the instance is made. The host hands
 * slots out (src/machine/shared-machine.ts) and never gives one to two
 * live CPUs.
 *
 *     zone: | slot 0 (PERCPU_BYTES) | slot 1 | ... | slot MAX_SHARED_CPUS-1 |
 */

import { MAX_SHARED_CPUS, PERCPU_BYTES } from "../src/arch/abi";

@external("env", "cpuSlot") declare const cpuSlot: i32;

const SLOT_BYTES: usize = PERCPU_BYTES;
const zone: usize = ASC_FEATURE_THREADS ? memory.data(MAX_SHARED_CPUS * PERCPU_BYTES, 64) : 0;
let used: usize = 0;

/**
 * Threads build: `bytes` of this CPU's slot, aligned to `align` (a power of
 * two), zero at first. Called only from module initialisers, in the same
 * order in every instance. Traps if the slot is too small, which is a build
 * error (the threads test instantiates the core).
 */
export function perCpu(bytes: u32, align: u32): usize {
  used = (used + align - 1) & ~((align as usize) - 1);
  const p = zone + (cpuSlot as usize) * SLOT_BYTES + used;
  used += bytes;
  if (used > SLOT_BYTES || (cpuSlot as u32) >= (MAX_SHARED_CPUS as u32)) unreachable();
  return p;
}

/**
 * Threads build: empties this CPU's buffers (a TLB and caches left by a CPU
 * that used the slot before); the host calls it right after instantiation.
 */
export function perCpuClear(): void {
  if (ASC_FEATURE_THREADS) memory.fill(zone + (cpuSlot as usize) * SLOT_BYTES, 0, SLOT_BYTES);
}
