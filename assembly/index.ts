/**
 * The exports of the x86mmu core. 64-bit quantities cross the boundary as two
 * u32 halves (lo, hi) or as u64 words in buffers the host reads through the
 * memory export; results that do not fit a return value go to the mailbox
 * (src/arch/abi.ts). The host layer is src/core.ts.
 */

import { PAGE_SHIFT } from "../src/arch/bits";
import * as F from "./frames";
import * as PM from "./physmem";
import * as S from "./state";
import * as C from "./control";
import * as W from "./walk";
import * as N from "./nested";
import * as ST from "./stats";
import * as PT from "./pagetable";
import { mailbox, reportFault } from "./access";
import * as J from "./journal";
import * as SP from "./special";
import { tlbFlushAll, tlbSetContext, tlb, tlbCount, TLB_ENTRY, tlbRestored, bumpSharedEpoch, sharedEpoch, tlbConfigure as configure } from "./tlb";
import { pdeCache, PSC_ENTRIES } from "./psc";
import { MB_PA, MB_LEVEL, MB_RIGHTS, MB_LEAF } from "../src/arch/abi";

export { perCpuClear } from "./percpu";
export { journalSync, dirtyRunning } from "./journal";
export { translate, translateBatch, translateStream, loadLinear, loadBatch, storeLinear, storeBatch, translateRange, rangeSpecialCount, physRange, tlbLevel } from "./access";

@inline function u64of(lo: u32, hi: u32): u64 {
  return ((hi as u64) << 32) | (lo as u64);
}

// ---- Layout ----

export function mailboxPtr(): usize {
  return mailbox;
}
export function traceBufPtr(): usize {
  return W.traceBuf;
}
export function traceCount(): u32 {
  return W.traceCount;
}
export function setTrace(on: bool): void {
  W.setTrace(on);
  N.setNestedTrace(false, 0);
}
export function traceReset(): void {
  W.traceReset();
  N.nestedTraceReset();
}

// ---- Registers and TLB management ----

/** A fresh register state (PDPTEs loaded under PAE); false on #GP (a reserved PDPTE bit), nothing changed. */
export function loadRegisters(c0lo: u32, c0hi: u32, c3lo: u32, c3hi: u32, c4lo: u32, c4hi: u32, eflo: u32, efhi: u32): bool {
  return C.loadRegisters(u64of(c0lo, c0hi), u64of(c3lo, c3hi), u64of(c4lo, c4hi), u64of(eflo, efhi));
}
/** MOV to CR0, CR3, CR4: false on #GP (a reserved bit in a PDPTE loaded under PAE paging), nothing changed. */
export function movCr0(lo: u32, hi: u32): bool {
  return C.movCr0(u64of(lo, hi));
}
export function movCr3(lo: u32, hi: u32): bool {
  return C.movCr3(u64of(lo, hi));
}
export function movCr4(lo: u32, hi: u32): bool {
  return C.movCr4(u64of(lo, hi));
}
/** Loads the PDPTE registers again (as MOV to CR3 does) and flushes the TLB; false on #GP. */
export function reloadPdptes(): bool {
  return C.reloadPdptes();
}
/** PDPTE register i (0..3) as two halves: lo returned, hi in the mailbox's value word. */
export function pdpteLo(i: u32): u32 {
  return S.getPdpte(i & 3) as u32;
}
export function pdpteHi(i: u32): u32 {
  return (S.getPdpte(i & 3) >> 32) as u32;
}
/** Sets PDPTE register i (restoring a snapshot); flushes the TLB. */
export function setPdpte(i: u32, lo: u32, hi: u32): void {
  S.setPdpte(i & 3, u64of(lo, hi));
  tlbFlushAll();
}
/**
 * Puts CR0, CR3, CR4 and EFER back as a snapshot saved them (restoring it),
 * without the PDPTE load of a MOV: memory need not hold the PDPT the saved
 * PDPTE registers came from (they follow through setPdpte). Flushes the TLB.
 */
export function restoreRegisters(c0lo: u32, c0hi: u32, c3lo: u32, c3hi: u32, c4lo: u32, c4hi: u32, eflo: u32, efhi: u32): void {
  S.setRegisters(u64of(c0lo, c0hi), u64of(c3lo, c3hi), u64of(c4lo, c4hi), u64of(eflo, efhi));
  tlbSetContext(S.pcid, S.asid);
  W.rightsReset();
  tlbFlushAll();
}
/** VMRUN's nested-paging part (control.ts vmrun); false for a bad TLB_CONTROL. */
export function vmrun(on: bool, lo: u32, hi: u32, hostNxe: bool, asid: u32, tlbControl: u32): bool {
  return C.vmrun(on, u64of(lo, hi), hostNxe, asid, tlbControl);
}
export function invlpga(lo: u32, hi: u32, asid: u32): void {
  C.invlpga(u64of(lo, hi), asid);
}
/** Nested trace: count, and the buffer (24 bytes a level: see nested.ts). */
export function nestedTraceCount(): u32 {
  return N.nestedTraceCount;
}
export function nestedTraceBufPtr(): usize {
  return N.nestedTraceBuf;
}

/** TLB and walk statistics (stats.ts: hits, misses, walks, entries read, u64 each). */
export function statsPtr(): usize {
  return ST.stats;
}
export function statsReset(): void {
  ST.statsReset();
}
/** The TLB's entries (tlb.ts's layout, TLB_ENTRY bytes each) and their number. */
export function tlbPtr(): usize {
  return tlb;
}
export function tlbEntries(): u32 {
  return tlbCount;
}
/** Sets the TLB's geometry (tlb.ts): entries and ways, powers of two; false for a bad one. Empties the TLB. */
export function tlbConfigure(entries: u32, ways: u32): bool {
  return configure(entries, ways);
}

// ---- One TLB per CPU (src/machine): the caches saved and swapped back ----

export function tlbBytes(): u32 {
  return tlbCount * TLB_ENTRY;
}
export function pscPtr(): usize {
  return pdeCache;
}
export function pscBytes(): u32 {
  return PSC_ENTRIES * 16;
}
/**
 * The TLB and PDE cache bytes were written back from a saved copy. With
 * `forgetHosts` (storage changed since they were saved: storageEpoch), the
 * entries keep their translations but look their frames' storage up again.
 */
export function cachesRestored(forgetHosts: bool): void {
  tlbRestored(forgetHosts);
}
/** Changes when a saved TLB may not be swapped back in at all: device or hook ranges changed, a snapshot restored, memory reset. */
export function sharedCacheEpoch(): u32 {
  return sharedEpoch;
}

/** The paging mode: 0 off, 2 32-bit, 3 PAE, 4 and 5 long mode. */
export function pagingMode(): i32 {
  return S.pagingLevels;
}
export function writeEfer(lo: u32, hi: u32): void {
  C.writeEfer(u64of(lo, hi));
}
export function writePkru(v: u32): void {
  C.writePkru(v);
}
export function writePkrs(v: u32): void {
  C.writePkrs(v);
}
export function setMaxPhyAddr(n: u32): void {
  S.setMaxPhyAddrValue(n);
  C.loadRegisters(S.cr0, S.cr3, S.cr4, S.efer);
}
export function invlpg(lo: u32, hi: u32): void {
  C.invlpg(u64of(lo, hi));
}
export function invpcid(type: u32, pcid: u32, lo: u32, hi: u32): bool {
  return C.invpcid(type, pcid, u64of(lo, hi));
}
export function flushTlb(): void {
  W.rightsReset();
  tlbFlushAll();
}

/** Walks without touching memory (no accessed/dirty flags): a probe. Returns the STATUS of the walk; frame in the mailbox. */
export function probe(lo: u32, hi: u32, acc: u32): i32 {
  ST.countWalk();
  const r = W.walk(u64of(lo, hi), acc, false);
  return finishWalk(r);
}

function finishWalk(r: i32): i32 {
  if (r == W.WALK_OK) {
    store<u32>(mailbox, 0);
    store<u64>(mailbox, W.walkFrame, MB_PA);
    store<u32>(mailbox, W.walkLevel, MB_LEVEL);
    store<u32>(mailbox, (W.walkUser ? 1 : 0) | (W.walkWritable ? 2 : 0) | (W.walkXd ? 4 : 0) | (W.walkPkey << 4), MB_RIGHTS);
    store<u64>(mailbox, W.walkEntry, MB_LEAF);
    return 0;
  }
  reportFault(r);
  return r;
}

/** After a successful probe under nested paging: the guest-physical 4 KiB frame, and the nested leaf entry. */
export function probeGuestFrameLo(): u32 {
  return W.walkGuestFrame as u32;
}
export function probeGuestFrameHi(): u32 {
  return (W.walkGuestFrame >> 32) as u32;
}
export function probeNestedLeafLo(): u32 {
  return N.nestedLeaf as u32;
}
export function probeNestedLeafHi(): u32 {
  return (N.nestedLeaf >> 32) as u32;
}

// ---- Physical memory ----

/**
 * Host offset of frame pa's storage, or 0 when it has none. With `write`, the
 * frame is given storage and the coming write is noted (dirty log,
 * snapshots); 0 then means memory is exhausted.
 */
export function frameHost(lo: u32, hi: u32, write: bool): usize {
  const pfn = u64of(lo, hi) >> PAGE_SHIFT;
  if (!write) return F.frameHost(pfn);
  const host = PM.frameHostOrAlloc(pfn);
  return host != 0 && J.noteWrite(host) ? host : 0;
}
export function framesList(out: usize, max: u32): u32 {
  return F.framesList(out, max);
}
export function framesInUse(): u32 {
  return F.framesInUse();
}
export function hostBytesInUse(): f64 {
  return <f64>F.hostBytesInUse();
}
export function highestBackedPfnPlusOne(): f64 {
  return <f64>F.highestBackedPfnPlusOne();
}
export function memoryReset(): void {
  PM.framesReset();
  C.loadRegisters(S.cr0, S.cr3, S.cr4, S.efer);
  bumpSharedEpoch();
}
/** Changes whenever frame storage is released or the journal starts a new generation (see frames.ts storageEpoch). */
export function storageEpoch(): u32 {
  return F.storageEpoch;
}
/** Host memory for the host's buffers (a multiple of 4 KiB); 0 when exhausted. */
export function scratchAlloc(bytes: u32): usize {
  return F.hostAlloc(bytes);
}

// ---- Guest frames and page tables ----

export function setAllocBase(lo: u32, hi: u32): void {
  PT.setAllocBase(u64of(lo, hi) >> PAGE_SHIFT);
}
/** A zeroed guest frame: its physical address as f64, or -1 (status in the mailbox). */
export function allocFrame(): f64 {
  const f = PT.allocFrame();
  return f == 0 ? -1 : <f64>((f - 1) << PAGE_SHIFT);
}
/** Frees a frame; false when it holds no storage (never written, or freed already). */
export function freeFrame(lo: u32, hi: u32): bool {
  const pfn = u64of(lo, hi) >> PAGE_SHIFT;
  if (F.frameHost(pfn) == 0) return false;
  PT.freeFrame(pfn);
  return true;
}
export function mapRange(
  rootLo: u32, rootHi: u32, levels: u32, vaLo: u32, vaHi: u32, paLo: u32, paHi: u32,
  pages: u32, level: u32, flagsLo: u32, flagsHi: u32,
): i32 {
  return PT.mapRange(u64of(rootLo, rootHi), levels, u64of(vaLo, vaHi), u64of(paLo, paHi), pages, level, u64of(flagsLo, flagsHi));
}
/** mapFresh: `pages` 4 KiB pages from va, each to a fresh zeroed frame (their addresses, u64 each, at `out`); a STATUS_*. */
export function mapFreshRange(rootLo: u32, rootHi: u32, levels: u32, vaLo: u32, vaHi: u32, pages: u32, flagsLo: u32, flagsHi: u32, out: usize): i32 {
  return PT.mapRange(u64of(rootLo, rootHi), levels, u64of(vaLo, vaHi), 0, pages, 1, u64of(flagsLo, flagsHi), true, out);
}
export function unmapRange(rootLo: u32, rootHi: u32, levels: u32, vaLo: u32, vaHi: u32, lenLo: u32, lenHi: u32): i32 {
  return PT.unmapRange(u64of(rootLo, rootHi), levels, u64of(vaLo, vaHi), u64of(lenLo, lenHi));
}
export function protectRange(
  rootLo: u32, rootHi: u32, levels: u32, vaLo: u32, vaHi: u32, lenLo: u32, lenHi: u32, flagsLo: u32, flagsHi: u32,
): i32 {
  return PT.protectRange(u64of(rootLo, rootHi), levels, u64of(vaLo, vaHi), u64of(lenLo, lenHi), u64of(flagsLo, flagsHi));
}

// ---- Baseline for copy benchmarks ----

/** memory.copy of `len` bytes inside linear memory: the fastest copy the core can make (a benchmark baseline). */
export function hostCopy(dst: usize, src: usize, len: u32): void {
  memory.copy(dst, src, len);
}

// ---- Dirty log and snapshots (journal.ts) ----

export function dirtyStart(): void {
  J.dirtyStart();
}
export function dirtyStop(): void {
  J.dirtyStop();
}
export function dirtyClear(): void {
  J.dirtyClear();
}
export function dirtyCount(): u32 {
  return J.dirtyCount();
}
export function dirtyList(out: usize, max: u32): u32 {
  return J.dirtyList(out, max);
}
export function snapshotTake(): i32 {
  return J.snapshotTake();
}
export function snapshotCount(): u32 {
  return J.snapshotCount();
}
export function snapshotFrames(k: u32): u32 {
  return J.snapshotFrames(k);
}
/** Restores memory to snapshot k and flushes the TLB; false for an unknown snapshot. */
export function snapshotRestore(k: u32): bool {
  const ok = J.snapshotRestore(k);
  tlbFlushAll();
  bumpSharedEpoch();
  return ok;
}
export function snapshotDrop(k: u32): bool {
  return J.snapshotDrop(k);
}
export function snapshotsBroken(): bool {
  return J.snapshotsBroken;
}

// ---- Device and hooked pages (special.ts) ----

export function specialSetRange(kind: u32, i: u32, sLo: u32, sHi: u32, eLo: u32, eHi: u32): bool {
  return SP.specialSetRange(kind, i, u64of(sLo, sHi), u64of(eLo, eHi));
}
/** Registers the first n ranges of a list; the TLB is flushed so no entry serves those pages fast. */
export function specialCommit(kind: u32, n: u32): void {
  SP.specialCommit(kind, n);
  tlbFlushAll();
  bumpSharedEpoch();
}
/** True when some frame in [startPfn, endPfn) holds storage (a device may not cover RAM that has data). */
export function anyBacked(sLo: u32, sHi: u32, eLo: u32, eHi: u32): bool {
  return F.anyBackedIn(u64of(sLo, sHi), u64of(eLo, eHi));
}

export { copySegments } from "./copy";

// ---- Frame allocator state (snapshots) ----

export function allocNextPfn(): f64 {
  return <f64>PT.allocNextPfn();
}
export function freeListCount(): u32 {
  return PT.freeListCount();
}
export function freeListRead(out: usize, max: u32): u32 {
  return PT.freeListRead(out, max);
}
/** Frames the allocator must skip: `n` (start, end) PFN pairs at `ptr` (pagetable.ts allocAvoid). */
export function allocAvoid(ptr: usize, n: u32): bool {
  return PT.allocAvoid(ptr, n);
}
export function allocRestore(nextPfn: f64, ptr: usize, n: u32): bool {
  return PT.allocRestore(<u64>nextPfn, ptr, n);
}
