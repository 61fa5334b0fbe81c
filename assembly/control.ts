/**
 * Register writes and TLB-management instructions, with the invalidations the
 * SDM prescribes (Vol. 3A, 4.10.4.1) and the ones our TLB needs because it
 * caches rights (any change to WP, SMEP, SMAP, NXE, PKE, PKS, PKRU or PKRS
 * flushes it; the processor is always free to invalidate more).
 */

import { CR0_PG_BIT, CR0_WP_BIT, CR4_PCIDE_BIT, CR3_NOFLUSH_BIT } from "../src/arch/bits";
import { physLoad } from "./frames";
import * as S from "./state";
import { tlbFlushAll, tlbFlushContext, tlbFlushPage, tlbSetContext } from "./tlb";
import { rightsReset as allowTableReset } from "./walk";

/** CR4 bits whose change invalidates everything: PGE, PCIDE, PAE, PSE, LA57, SMEP, SMAP, PKE, PKS. */
const CR4_FLUSH_BITS: u64 = (1 << 4) | (1 << 5) | (1 << 7) | (1 << 12) | (1 << 17) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 24);
const CR0_FLUSH_BITS: u64 = ((1 as u64) << CR0_PG_BIT) | ((1 as u64) << CR0_WP_BIT) | 1;
const EFER_FLUSH_BITS: u64 = (1 << 8) | (1 << 10) | (1 << 11);

/** CR0 bits whose change reloads the PDPTEs under PAE paging (4.4.1): PG, CD, NW. */
const CR0_PDPTE_BITS: u64 = ((1 as u64) << CR0_PG_BIT) | ((1 as u64) << 30) | ((1 as u64) << 29);
/** CR4 bits whose change reloads the PDPTEs under PAE paging (4.4.1): PSE, PAE, PGE, SMEP. */
const CR4_PDPTE_BITS: u64 = (1 << 4) | (1 << 5) | (1 << 7) | (1 << 20);

function syncTag(): void {
  tlbSetContext(S.pcid, S.asid);
}

/**
 * Loads the four PDPTE registers from the 32-byte PDPT at CR3[31:5] when the
 * registers now select PAE paging (SDM 4.4.1). A present PDPTE with a
 * reserved bit makes the instruction #GP: then nothing is loaded and false
 * is returned (the caller puts the old registers back).
 */
function loadPdptes(): bool {
  if (S.pagingLevels != S.MODE_PAE) return true;
  const base = S.cr3 & 0xffffffe0;
  const reserved = S.pdpteReserved();
  for (let i: u32 = 0; i < 4; i++) {
    const e = physLoad(base + ((i as u64) << 3), 8);
    if ((e & 1) != 0 && (e & reserved) != 0) return false;
  }
  for (let i: u32 = 0; i < 4; i++) S.setPdpte(i, physLoad(base + ((i as u64) << 3), 8));
  return true;
}

/** Makes (c0, c3, c4, ef) current, loading PDPTEs when `reload`; false (and nothing changed) on #GP. */
function commit(c0: u64, c3: u64, c4: u64, ef: u64, reload: bool): bool {
  const o0 = S.cr0, o3 = S.cr3, o4 = S.cr4, oe = S.efer;
  S.setRegisters(c0, c3, c4, ef);
  if (reload && !loadPdptes()) {
    S.setRegisters(o0, o3, o4, oe);
    return false;
  }
  return true;
}

/** Loads all four registers at once (a fresh CPU state, PDPTEs included): flushes everything. False on #GP (a reserved PDPTE bit). */
export function loadRegisters(c0: u64, c3: u64, c4: u64, ef: u64): bool {
  if (!commit(c0, c3 & ~((1 as u64) << CR3_NOFLUSH_BIT), c4, ef, true)) return false;
  syncTag();
  allowTableReset();
  tlbFlushAll();
  return true;
}

/**
 * Loads the PDPTE registers again from memory, as a MOV to CR3 of the same
 * value would, and flushes the TLB; false on #GP (nothing changes). Under
 * other modes it only flushes.
 */
export function reloadPdptes(): bool {
  if (!loadPdptes()) return false;
  tlbFlushAll();
  return true;
}

/** MOV to CR0. False on #GP (a reserved PDPTE bit when paging turns on in PAE mode). */
export function movCr0(v: u64): bool {
  const changed = v ^ S.cr0;
  if (!commit(v, S.cr3, S.cr4, S.efer, (changed & CR0_PDPTE_BITS) != 0)) return false;
  if ((changed & CR0_FLUSH_BITS) != 0) {
    allowTableReset();
    tlbFlushAll();
  }
  return true;
}

/** MOV to CR4: PGE changes and PCIDE 1 -> 0 flush everything (4.10.4.1); so do the rights bits. False on #GP (PDPTEs). */
export function movCr4(v: u64): bool {
  const changed = v ^ S.cr4;
  if (!commit(S.cr0, S.cr3, v, S.efer, (changed & CR4_PDPTE_BITS) != 0)) return false;
  syncTag();
  if ((changed & CR4_FLUSH_BITS) != 0) {
    allowTableReset();
    tlbFlushAll();
  }
  return true;
}

/** WRMSR IA32_EFER (the host refuses the mode changes that would #GP). */
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
export function movCr3(v: u64): bool {
  const noFlush = (v >> CR3_NOFLUSH_BIT) != 0;
  const pcide = ((S.cr4 >> CR4_PCIDE_BIT) & 1) != 0;
  // Under PAE paging MOV to CR3 loads the PDPTEs (4.4.1), and may #GP.
  if (!commit(S.cr0, v & ~((1 as u64) << CR3_NOFLUSH_BIT), S.cr4, S.efer, true)) return false;
  syncTag();
  if (!pcide) tlbFlushContext(-1, false);
  else if (!noFlush) tlbFlushContext(S.pcid as i32, false);
  return true;
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


// ---- Nested paging (AMD SVM, APM 15.16 and 15.25) ----

/**
 * Enters (on) or leaves nested paging with nested root `ncr3`, the host's
 * EFER.NXE and guest ASID `asid` (1..127), then performs the VMCB's
 * TLB_CONTROL: 0 nothing, 1 flush every ASID's entries, 3 flush this ASID's,
 * 7 flush this ASID's non-global entries. Returns false for another
 * TLB_CONTROL value. Entries of other ASIDs survive, as on hardware.
 */
export function vmrun(on: bool, ncr3: u64, hostNxe: bool, asid: u32, tlbControl: u32): bool {
  if (tlbControl != 0 && tlbControl != 1 && tlbControl != 3 && tlbControl != 7) return false;
  const nxeChanged = hostNxe != S.hostNxe;
  S.setNested(on, ncr3, hostNxe, asid);
  syncTag();
  // The TLB caches nested XD decisions: a new host NXE invalidates them.
  if (nxeChanged || tlbControl == 1) tlbFlushAll();
  else if (tlbControl == 3) tlbFlushContext(-1, true);
  else if (tlbControl == 7) tlbFlushContext(-1, false);
  return true;
}

/** INVLPGA: invalidates the translations of the page containing `la` in ASID `asid`, global ones too. */
export function invlpga(la: u64, asid: u32): void {
  tlbFlushPage(la, -1, true, asid as i32);
}
