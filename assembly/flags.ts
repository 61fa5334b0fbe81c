/**
 * How a walk sets A and D in a paging-structure entry. A processor does it
 * with a locked read-modify-write (SDM 4.8, 8.1.2.1), so a flag set by one
 * CPU is never lost to another's: in the threads build that is an atomic OR
 * of the new bits; with one CPU a plain store of the updated entry is the
 * same thing.
 */

/**
 * The 8-byte entry at `ptr` becomes `updated`, which is the entry as read
 * with `bits` (A, D) added; with several CPUs only `bits` are ORed in, so
 * whatever another CPU wrote to the entry meanwhile stays.
 */
@inline export function setFlags64(ptr: usize, updated: u64, bits: u64): void {
  if (ASC_FEATURE_THREADS) atomic.or<u64>(ptr, bits);
  else store<u64>(ptr, updated);
}

/** The same for a 4-byte entry (32-bit paging). */
@inline export function setFlags32(ptr: usize, updated: u32, bits: u32): void {
  if (ASC_FEATURE_THREADS) atomic.or<u32>(ptr, bits);
  else store<u32>(ptr, updated);
}
