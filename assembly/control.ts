/**
 * Register writes and TLB-management instructions, with the invalidations the
 * SDM prescribes (Vol. 3A, 4.10.4.1) and the ones our TLB needs because it
 * caches rights (any change to WP, SMEP, SMAP, NXE, PKE, PKS, PKRU or PKRS
 * flushes it; the processor is always free to invalidate more).
 */

import { CR0_PG_BIT, CR0_WP_BIT, CR4_PCIDE_BIT, CR3_NOFLUSH_BIT } from "../src/arch/bits";
import * as S from "./state";
import { tlbFlushAll, tlbFlushContext, tlbFlushPage, tlbSetPcid } from "./tlb";
import { rightsReset as allowTableReset } from "./walk";

/** CR4 bits whose change invalidates everything: PGE, PCIDE, PAE, PSE, LA57, SMEP, SMAP, PKE, PKS. */
const CR4_FLUSH_BITS: u64 = (1 << 4) | (1 << 5) | (1 << 7) | (1 << 12) | (1 << 17) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 24);
const CR0_FLUSH_BITS: u64 = ((1 as u64) << CR0_PG_BIT) | ((1 as u64) << CR0_WP_BIT) | 1;
const EFER_FLUSH_BITS: u64 = (1 << 8) | (1 << 10) | (1 << 11);

function syncTag(): void {
  tlbSetPcid(S.pcid as u64);
}

/** Loads all four registers at once (a fresh CPU state): flushes everything. */
export function loadRegisters(c0: u64, c3: u64, c4: u64, ef: u64): void {
  S.setRegisters(c0, c3 & ~((1 as u64) << CR3_NOFLUSH_BIT), c4, ef);
  syncTag();
  allowTableReset();
  tlbFlushAll();
}

/** MOV to CR0. */
export function movCr0(v: u64): void {
  const changed = v ^ S.cr0;
  S.setRegisters(v, S.cr3, S.cr4, S.efer);
  if ((changed & CR0_FLUSH_BITS) != 0) {
    allowTableReset();
    tlbFlushAll();
  }
}

/** MOV to CR4: PGE changes and PCIDE 1 -> 0 flush everything (4.10.4.1); so do the rights bits. */
export function movCr4(v: u64): void {
  const changed = v ^ S.cr4;
  S.setRegisters(S.cr0, S.cr3, v, S.efer);
  syncTag();
  if ((changed & CR4_FLUSH_BITS) != 0) {
    allowTableReset();
    tlbFlushAll();
  }
}

/** WRMSR IA32_EFER. */
export function writeEfer(v: u64): void {
  const changed = v ^ S.efer;
  S.setRegisters(S.cr0, S.cr3, S.cr4, v);
  if ((changed & EFER_FLUSH_BITS) != 0) {
    allowTableReset();
    tlbFlushAll();
  }
}

/**
 * MOV to CR3 (4.10.4.1). With CR4.PCIDE=0: invalidates every non-global entry
 * (all are PCID 000H). With CR4.PCIDE=1: bit 63 of the source clear
 * invalidates the new PCID's non-global entries; set, invalidates nothing.
 * Bit 63 is not stored in CR3.
 */
export function movCr3(v: u64): void {
  const noFlush = (v >> CR3_NOFLUSH_BIT) != 0;
  const pcide = ((S.cr4 >> CR4_PCIDE_BIT) & 1) != 0;
  S.setCr3Value(v & ~((1 as u64) << CR3_NOFLUSH_BIT));
  syncTag();
  if (!pcide) tlbFlushContext(-1, false);
  else if (!noFlush) tlbFlushContext(S.pcid as i32, false);
}

/** WRPKRU. */
export function writePkru(v: u32): void {
  if (v == S.pkru) return;
  S.setPkru(v);
  allowTableReset();
  tlbFlushAll();
}

/** WRMSR IA32_PKRS. */
export function writePkrs(v: u32): void {
  if (v == S.pkrs) return;
  S.setPkrs(v);
  allowTableReset();
  tlbFlushAll();
}

/** INVLPG: the page containing `la`, for the current PCID and global entries (we drop it for every PCID). */
export function invlpg(la: u64): void {
  tlbFlushPage(la, -1, true);
}

/**
 * INVPCID (Vol. 2, INVPCID): type 0 individual address (non-global, given
 * PCID), 1 single context (non-global, given PCID), 2 all contexts including
 * global, 3 all contexts except global. Returns false for another type (#GP).
 */
export function invpcid(type: u32, pcidValue: u32, la: u64): bool {
  if (type == 0) tlbFlushPage(la, pcidValue as i32, false);
  else if (type == 1) tlbFlushContext(pcidValue as i32, false);
  else if (type == 2) tlbFlushAll();
  else if (type == 3) tlbFlushContext(-1, false);
  else return false;
  return true;
}

