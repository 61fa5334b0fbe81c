/**
 * The TLB: a set-associative cache of translations, 4 KiB each (a 2 MiB or
 * 1 GiB page is cached as the 4 KiB pieces that are used, as QEMU's softmmu
 * does), tagged with the PCID (SDM 4.10.1, 4.10.2). Its geometry is chosen
 * at creation (tlbConfigure): 16 to 8192 entries in sets of 1 to 16 ways;
 * 1024 direct-mapped entries by default. Within a set the ways are kept most
 * recently used first: a hit in another way moves that entry to way 0, a
 * fill goes to way 0 and the least recently used entry falls off the end
 * (true LRU: the sets are small). The fast paths look at way 0 only; the
 * slow path (tlbFind) searches the others.
 *
 * An entry caches what a walk decided, never more: `allow` has one bit per
 * access kind (the low four bits of an ACCESS_* word: op, CPL 3, EFLAGS.AC)
 * that this translation permits under the current CR0/CR4/EFER/PKRU/PKRS, and
 * a write is permitted only when the leaf's dirty flag is already set, so the
 * first write through an entry walks again and sets D in memory. Any register
 * write that changes the rights flushes the whole TLB (the processor may
 * always invalidate more than the SDM requires, 4.10.4.1).
 *
 *     entry (32 bytes):
 *     +0  u64 tag    linear page address | PCID   (a zeroed entry has allow = 0)
 *     +8  u64 frame  physical address of the 4 KiB frame
 *     +16 u32 host   linear-memory offset of the frame's storage for reads, 0 = not known yet
 *     +20 u16 allow  bit (acc & 15) set: that access kind hits without a walk
 *     +22 u8  level  leaf level of the page (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB)
 *     +23 u8  flags  TLB_GLOBAL: G=1 with CR4.PGE=1 (survives CR3 loads);
 *                    TLB_SPECIAL: device or hooked page (special.ts), never served fast
 *     +24 u32 whost  the same offset for writes: set only once journal.ts has noted the
 *                    frame in the current generation, so fast stores need no check
 *     +28 u8 log2 of the page size (12, 21, 22 or 30: what INVLPG must cover)  +29 spare
 */

import { PAGE_SHIFT, PAGE_SIZE } from "../src/arch/bits";
import { perCpu } from "./percpu";
import { pageSpecial } from "./special";
import { pscMarkLive, pscFlushAll } from "./psc";

export const TLB_MAX_ENTRIES: u32 = 8192;
export const TLB_MAX_WAYS: u32 = 16;
export const TLB_ENTRY: u32 = 32;

export const tlb: usize = ASC_FEATURE_THREADS ? perCpu(TLB_MAX_ENTRIES * TLB_ENTRY, 64) : memory.data(TLB_MAX_ENTRIES * TLB_ENTRY, 64);

/** The geometry (tlbConfigure): tlbCount entries in sets of tlbWays, way 0 of set s at tlb + (s << tlbWayShift) * 32. */
export let tlbCount: u32 = 1024;
export let tlbWays: u32 = 1;
export let tlbWayShift: u32 = 0;
export let tlbSetMask: u32 = 1023;
/** The current ASID, for the slot salt when the geometry changes. */
let tlbAsid: u32 = 0;

/** Sets the geometry and empties the TLB; false (nothing changed) unless both are powers of two with 16 <= entries <= 8192, ways <= 16 and ways <= entries. */
export function tlbConfigure(entries: u32, ways: u32): bool {
  if (entries < 16 || entries > TLB_MAX_ENTRIES || (entries & (entries - 1)) != 0) return false;
  if (ways < 1 || ways > TLB_MAX_WAYS || (ways & (ways - 1)) != 0 || ways > entries) return false;
  tlbCount = entries;
  tlbWays = ways;
  tlbWayShift = ctz(ways);
  tlbSetMask = (entries >> tlbWayShift) - 1;
  slotSalt = saltOf(tlbAsid);
  tlbFlushAll();
  return true;
}

export const TLB_GLOBAL: u8 = 1;
export const TLB_SPECIAL: u8 = 2;

/**
 * Tag bits of the current context, XORed into the linear page address: the
 * PCID in bits 11:0, and under nested paging the ASID in bits 63:57. A
 * canonical linear address's bits 63:57 are copies of bit 56 (or 47), so two
 * (address, ASID) pairs never share a tag: ASIDs are 0..127 (NASID 128).
 */
export let tlbPcid: u64 = 0;
export const ASID_SHIFT: u64 = 57;
export const NASID: u32 = 128;
export function tlbSetContext(pcid: u32, asid: u32): void {
  tlbPcid = (pcid as u64) | ((asid as u64) << ASID_SHIFT);
  tlbAsid = asid;
  slotSalt = saltOf(asid);
}

/**
 * Each ASID indexes the TLB's sets with its own XOR pattern, so that two
 * guests using the same linear page do not keep evicting each other
 * (consecutive pages still get different sets).
 */
export let slotSalt: u32 = 0;
@inline function saltOf(asid: u32): u32 {
  return (asid * 0x2d5) & tlbSetMask;
}

/** The ASID an entry's tag was filled under (see tlbPcid). */
@inline function asidOf(tag: u64): u32 {
  const sign: u64 = ((tag >> 56) & 1) * 0x7f;
  return (((tag >> ASID_SHIFT) ^ sign) as u32) & 0x7f;
}
/** Some entry maps part of a 2 MiB or 1 GiB page (INVLPG must then look further than one slot). */
let largeCached: bool = false;

const PAGE_MASK: u64 = ~((PAGE_SIZE - 1) as u64);

/** Way 0 of the set of linear address `la` (the only slot of a direct-mapped TLB). */
@inline export function tlbSlot(la: u64): usize {
  return tlb + ((((((la >> PAGE_SHIFT) as u32) ^ slotSalt) & tlbSetMask) << tlbWayShift) << 5);
}

/**
 * Caches a translation of `la` that a walk found: the 4 KiB frame, the leaf's
 * level, the access kinds it allows (walk.ts rightsMask) and whether it is
 * global; returns the slot.
 */
@inline export function tlbFill(la: u64, walkFrame: u64, walkLevel: i32, walkShift: u32, walkAllow: u32, walkGlobal: bool): usize {
  const e = tlbSlot(la);
  if (tlbWays > 1) makeRoom(e, (la & PAGE_MASK) ^ tlbPcid);
  store<u64>(e, (la & PAGE_MASK) ^ tlbPcid);
  store<u64>(e, walkFrame, 8);
  store<u32>(e, 0, 16);
  store<u16>(e, walkAllow as u16, 20);
  store<u8>(e, walkLevel as u8, 22);
  let flags: u8 = walkGlobal ? TLB_GLOBAL : 0;
  if (pageSpecial(walkFrame, la)) flags |= TLB_SPECIAL;
  store<u8>(e, flags, 23);
  store<u32>(e, 0, 24);
  store<u8>(e, walkShift as u8, 28);
  if (walkLevel > 1) largeCached = true;
  return e;
}

/**
 * tlbFill for a direct-mapped TLB whose slot `e` the caller computed (the
 * batch miss loop): the same entry, written as four u64 stores.
 */
@inline export function tlbFillDirect(e: usize, la: u64, walkFrame: u64, walkLevel: i32, walkShift: u32, walkAllow: u32, walkGlobal: bool): void {
  let flags: u64 = walkGlobal ? TLB_GLOBAL : 0;
  if (pageSpecial(walkFrame, la)) flags |= TLB_SPECIAL;
  store<u64>(e, (la & PAGE_MASK) ^ tlbPcid);
  store<u64>(e, walkFrame, 8);
  // +16 host 0, +20 allow, +22 level, +23 flags; +24 whost 0, +28 log2 of the page size.
  store<u64>(e, ((walkAllow as u64) << 32) | ((walkLevel as u64) << 48) | (flags << 56), 16);
  store<u64>(e, (walkShift as u64) << 32, 24);
  if (walkLevel > 1) largeCached = true;
}

/**
 * Way 0 of `set` is about to take a new entry with `tag`: the ways before
 * the one holding `tag` already (or before the last way, the least recently
 * used) move down one.
 */
function makeRoom(set: usize, tag: u64): void {
  let k: u32 = tlbWays - 1;
  for (let w: u32 = 0; w < tlbWays - 1; w++) {
    const e = set + (w << 5);
    if (load<u16>(e, 20) != 0 && load<u64>(e) == tag) {
      k = w;
      break;
    }
  }
  if (k > 0) memory.copy(set + TLB_ENTRY, set, (k << 5) as usize);
}

/**
 * The slow path's search of `la`'s set: an entry that serves `acc`, filled
 * under the current PCID, or global under any PCID (SDM 4.10.2.4). Moves it
 * to way 0 (most recently used) and returns way 0's address; 0 when none.
 */
export function tlbFind(la: u64, acc: u32): usize {
  const set = tlbSlot(la);
  const tag = (la & PAGE_MASK) ^ tlbPcid;
  for (let w: u32 = 0; w < tlbWays; w++) {
    const e = set + (w << 5);
    if (((load<u16>(e, 20) >> (acc & 15)) & 1) == 0) continue;
    const t = load<u64>(e);
    if (t != tag && !((load<u8>(e, 23) & TLB_GLOBAL) != 0 && (t & PAGE_MASK) == ((la ^ tlbPcid) & PAGE_MASK))) continue;
    if (w > 0) {
      // Move way w to the front: the ways before it move down one.
      const t0 = load<u64>(e);
      const t1 = load<u64>(e, 8);
      const t2 = load<u64>(e, 16);
      const t3 = load<u64>(e, 24);
      memory.copy(set + TLB_ENTRY, set, (w << 5) as usize);
      store<u64>(set, t0);
      store<u64>(set, t1, 8);
      store<u64>(set, t2, 16);
      store<u64>(set, t3, 24);
    }
    return set;
  }
  return 0;
}

// ---- Invalidation (SDM 4.10.4) ----

/** Invalidates every entry, global ones too, for every PCID. */
export function tlbFlushAll(): void {
  pscFlushAll();
  memory.fill(tlb, 0, (tlbCount * TLB_ENTRY) as usize);
  largeCached = false;
}

/**
 * The TLB and the PDE cache were written back from a copy saved earlier (a
 * multi-CPU machine keeps one pair per CPU and swaps them in, src/machine):
 * they may hold anything, large pages included. Storage pointers cached in
 * entries (+16, +24) are cleared when storage changed meanwhile.
 */
export function tlbRestored(forgetHosts: bool): void {
  largeCached = true;
  pscMarkLive();
  if (forgetHosts) for (let e = tlb; e < tlb + tlbCount * TLB_ENTRY; e += TLB_ENTRY) {
    store<u32>(e, 0, 16);
    store<u32>(e, 0, 24);
  }
}

/**
 * Bumped when something outside a CPU changes what TLB entries may say: the
 * device and hook ranges, memory restored from a snapshot (storage changes
 * count through frames.ts storageEpoch). A saved TLB from before such a
 * change is dropped, not swapped back in.
 */
export let sharedEpoch: u32 = 0;
export function bumpSharedEpoch(): void {
  sharedEpoch++;
}

/**
 * Invalidates the entries of ASID `asid` (the current one when < 0) that
 * match: `pcid` < 0 means any PCID; global entries only when `globalToo`.
 */
export function tlbFlushContext(pcid: i32, globalToo: bool, asid: i32 = -1): void {
  const id: u32 = asid < 0 ? ((tlbPcid >> ASID_SHIFT) as u32) : (asid as u32);
  pscFlushAll();
  for (let e = tlb; e < tlb + tlbCount * TLB_ENTRY; e += TLB_ENTRY) {
    if (load<u16>(e, 20) == 0) continue;
    if (asidOf(load<u64>(e)) != id) continue;
    if (!globalToo && (load<u8>(e, 23) & TLB_GLOBAL) != 0) continue;
    if (pcid >= 0 && ((load<u64>(e) as u32) & 0xfff) != (pcid as u32)) continue;
    store<u16>(e, 0, 20);
  }
}

/**
 * Invalidates the entries of ASID `asid` (the current one when < 0) that
 * translate the page containing `la` (whatever its size). `pcid` < 0 means
 * any PCID; global entries only when `globalToo`.
 */
export function tlbFlushPage(la: u64, pcid: i32, globalToo: bool, asid: i32 = -1): void {
  const id: u64 = asid < 0 ? tlbPcid >> ASID_SHIFT : (asid as u64);
  // INVLPG invalidates the paging-structure caches' entries for the current PCID (4.10.4.1): all of them here.
  pscFlushAll();
  const set = tlb + ((((((la >> PAGE_SHIFT) as u32) ^ saltOf(id as u32)) & tlbSetMask) << tlbWayShift) << 5);
  la ^= id << ASID_SHIFT;
  if (!largeCached) {
    for (let w: u32 = 0; w < tlbWays; w++) flushIfCovers(set + (w << 5), la, pcid, globalToo);
    return;
  }
  for (let e = tlb; e < tlb + tlbCount * TLB_ENTRY; e += TLB_ENTRY) flushIfCovers(e, la, pcid, globalToo);
}

@inline function flushIfCovers(e: usize, la: u64, pcid: i32, globalToo: bool): void {
  if (load<u16>(e, 20) == 0) return;
  const pageMask: u64 = ~(((1 as u64) << (load<u8>(e, 28) as u64)) - 1);
  const tag = load<u64>(e);
  if ((tag & pageMask) != (la & pageMask)) return;
  if (!globalToo && (load<u8>(e, 23) & TLB_GLOBAL) != 0) return;
  if (pcid >= 0 && ((tag as u32) & 0xfff) != (pcid as u32)) return;
  store<u16>(e, 0, 20);
}

/** Forgets the storage pointers of entries that map the 4 KiB frame at `frame` (its storage was released). */
export function tlbForgetFrame(frame: u64): void {
  pscFlushAll();
  for (let e = tlb; e < tlb + tlbCount * TLB_ENTRY; e += TLB_ENTRY) {
    if (load<u64>(e, 8) == frame) {
      store<u32>(e, 0, 16);
      store<u32>(e, 0, 24);
    }
  }
}

/** Forgets every write pointer: a new write generation began (journal.ts). */
export function tlbForgetWriteHosts(): void {
  for (let e = tlb; e < tlb + tlbCount * TLB_ENTRY; e += TLB_ENTRY) store<u32>(e, 0, 24);
}
