/**
 * Paging-structure caches (SDM 4.10.3): the PDE cache. A TLB miss whose
 * 2 MiB region was walked before reads one entry (the PTE) instead of four
 * or five: the cache keeps, per (PCID, linear address bits 47:21 or 56:21),
 * where the page table is and the rights the upper levels granted.
 *
 * Like the processor's, it is architectural: an entry stays usable after
 * the PML4E, PDPTE or PDE it came from changes in memory, until INVLPG, MOV
 * to CR3, INVPCID or a CR4 change invalidates it (tlb.ts flushes it with any
 * TLB invalidation: the processor is free to invalidate more). Only entries
 * whose A flags are set, with no reserved bit, referencing a page table (not
 * a 2 MiB or 1 GiB page) are cached, as 4.10.3.1 allows. Not used under
 * nested paging or outside long mode (caching is optional).
 *
 *     entry (16 bytes): +0 u64 tag   VALID | (la >> 21) << 12 | PCID
 *                       +8 u64 table the page table's physical address | rights:
 *                                    bit 1 R/W, bit 2 U/S (ANDed), bit 0 XD (ORed) over the upper levels
 */

import { perCpu } from "./percpu";

export const PSC_ENTRIES: u32 = 512;
const VALID: u64 = (1 as u64) << 63;
export const pdeCache: usize = ASC_FEATURE_THREADS ? perCpu(PSC_ENTRIES * 16, 16) : memory.data(PSC_ENTRIES * 16, 16);
/** Some entry may be valid (a flush has work to do). */
let live: bool = false;

@inline export function pdeSlot(la: u64): usize {
  return pdeCache + ((((la >> 21) as u32) & (PSC_ENTRIES - 1)) << 4);
}

@inline export function pdeTag(la: u64, ctx: u64): u64 {
  return VALID | ((la >> 21) << 12) | (ctx & 0xfff);
}

/** Caches the page table at `table` for `la`'s 2 MiB region, with the upper levels' rights. */
@inline export function pdeFill(la: u64, ctx: u64, table: u64, rights: u64): void {
  const s = pdeSlot(la);
  store<u64>(s, pdeTag(la, ctx));
  store<u64>(s, table | rights, 8);
  live = true;
}

/** The cache was written back from a saved copy: a flush has work to do. */
export function pscMarkLive(): void {
  live = true;
}

/** Invalidates every entry. */
export function pscFlushAll(): void {
  if (!live) return;
  memory.fill(pdeCache, 0, PSC_ENTRIES * 16);
  live = false;
}
