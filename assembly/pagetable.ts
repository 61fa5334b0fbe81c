/**
 * Page-table building: a guest frame allocator, and map / unmap / protect
 * over ranges of a page-table tree in the frame store, as an OS would do
 * them (the core uses the same entry format the walker reads).
 *
 * Each operation first checks its whole range without changing anything, and
 * takes every frame it may need before writing an entry, so a refused or
 * failed operation leaves the tables as they were.
 *
 * Tables it creates get P, R/W and U/S set: the leaf entries decide the
 * rights, as most kernels (and Asterinas OSTD) arrange it.
 */

import { lockTake, lockGive, lockEpoch } from "./lock";
import { PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PS_BIT, PTE_XD_BIT, PTE_PK_SHIFT, PAGE_SHIFT, PAGE_SIZE } from "../src/arch/bits";
import {
  STATUS_OK, STATUS_NO_MEMORY, STATUS_ALREADY_MAPPED, STATUS_SPLITS_LARGE_PAGE, STATUS_NO_FRAME, MB_PA,
} from "../src/arch/abi";
import { frameHost, hostAlloc, hostRelease, hostBytesFree, physLoad } from "./frames";
import { frameHostOrAlloc, frameRelease, physStore } from "./physmem";
import { ENTRY_ADDR_MASK, maxPhyAddr } from "./state";
import { tlbFlushAll, tlbFlushPage, tlbForgetFrame } from "./tlb";
import { mailbox } from "./access";
import { physSpecial } from "./special";
import { noteWrite, journalMark, journalRollback } from "./journal";

const P: u64 = (1 as u64) << PTE_P_BIT;
const RW: u64 = (1 as u64) << PTE_RW_BIT;
const US: u64 = (1 as u64) << PTE_US_BIT;
const PS: u64 = (1 as u64) << PTE_PS_BIT;
const TABLE_FLAGS: u64 = P | RW | US;
/** The bits protect() replaces: R/W, U/S, XD and the protection key. */
const PROTECT_BITS: u64 = RW | US | ((1 as u64) << PTE_XD_BIT) | ((15 as u64) << PTE_PK_SHIFT);

// ---- Guest frame allocator ----
//
// Hands out physical frames from `allocNext` upward, skipping frames that
// already hold data, and reuses freed frames first. Freed frames are kept on
// a stack in 4 KiB host chunks: +0 u32 previous chunk, +4 u32 count, +8 u64 PFNs.

let allocNext: u64 = 0x100; // 1 MiB: leaves the low megabyte to the user
let freeChunk: usize = 0;

// ---- Sharing (threads build, lock.ts) ----
//
// Every exported builder call runs under the lock, with this file's globals
// loaded from `home` and stored back, so CPUs in several workers may build
// tables in one memory without handing out a frame twice.
//
//   home: +0 allocNext  +8 freeChunk  +16 avoid  +24 avoidCap  +28 avoidCount
//         +32 reserve  +40 reserveCap  +44 reserveCount  +48 saved once

const home: usize = memory.data(56, 8);
let homeEpoch: u32 = 0;

function enter(): void {
  lockTake();
  if (homeEpoch == lockEpoch()) return;
  homeEpoch = lockEpoch();
  if (load<u32>(home, 48) == 0) return;
  allocNext = load<u64>(home);
  freeChunk = load<u64>(home, 8) as usize;
  avoid = load<u64>(home, 16) as usize;
  avoidCap = load<u32>(home, 24);
  avoidCount = load<u32>(home, 28);
  reserve = load<u64>(home, 32) as usize;
  reserveCap = load<u32>(home, 40);
  reserveCount = load<u32>(home, 44);
}

function leave(): void {
  store<u64>(home, allocNext);
  store<u64>(home, freeChunk as u64, 8);
  store<u64>(home, avoid as u64, 16);
  store<u32>(home, avoidCap, 24);
  store<u32>(home, avoidCount, 28);
  store<u64>(home, reserve as u64, 32);
  store<u32>(home, reserveCap, 40);
  store<u32>(home, reserveCount, 44);
  store<u32>(home, 1, 48);
  lockGive();
}
/** Set by allocFrame: the frame it returned came from the free list (else from allocNext upward). */
let fromFreeList: bool = false;
const CHUNK_CAPACITY: u32 = (PAGE_SIZE - 8) / 8;

export function setAllocBase(pfn: u64): void {
  if (!ASC_FEATURE_THREADS) {
    setAllocBase_(pfn);
    return;
  }
  enter();
  setAllocBase_(pfn);
  leave();
}

@inline function setAllocBase_(pfn: u64): void {
  allocNext = pfn;
}

/** A zeroed frame with storage; returns its PFN + 1, or 0 (STATUS_NO_FRAME / STATUS_NO_MEMORY in the mailbox). */
export function allocFrame(): u64 {
  if (!ASC_FEATURE_THREADS) return allocFrame_();
  enter();
  const r = allocFrame_();
  leave();
  return r;
}

@inline function allocFrame_(): u64 {
  while (freeChunk != 0) {
    const count = load<u32>(freeChunk, 4);
    const pfn = load<u64>(freeChunk + 8 + ((count - 1) << 3));
    // Mapped as data by the owner layer since it was freed (a restored
    // snapshot's free list may hold one): not free for tables any more.
    if (avoidCount != 0 && avoidedEnd(pfn) != 0) {
      popFreeTop(count);
      continue;
    }
    fromFreeList = true;
    // Someone may have written to the frame since it was freed.
    const had = frameHost(pfn);
    if (had != 0) {
      if (!noteWrite(had)) return fail(STATUS_NO_MEMORY);
      memory.fill(had, 0, PAGE_SIZE);
    }
    else if (frameHostOrAlloc(pfn) == 0) return fail(STATUS_NO_MEMORY);
    popFreeTop(count);
    return pfn + 1;
  }
  fromFreeList = false;
  const limit: u64 = (1 as u64) << (maxPhyAddr - PAGE_SHIFT);
  while (allocNext < limit) {
    if (frameHost(allocNext) != 0 || physSpecial(allocNext)) {
      allocNext++;
      continue;
    }
    const end = avoidCount != 0 ? avoidedEnd(allocNext) : 0;
    if (end == 0) break;
    allocNext = end;
  }
  if (allocNext >= limit) return fail(STATUS_NO_FRAME);
  if (frameHostOrAlloc(allocNext) == 0) return fail(STATUS_NO_MEMORY);
  return ++allocNext;
}

/** Drops the top of the free list (its chunk holds `count` PFNs). */
function popFreeTop(count: u32): void {
  if (count == 1) {
    const prev = load<u32>(freeChunk) as usize;
    freeChunkRelease(freeChunk);
    freeChunk = prev;
  } else store<u32>(freeChunk, count - 1, 4);
}

// ---- Frames the allocator must not hand out ----
//
// The owner layer (src/ostd) maps frames as data that the allocator never
// handed out; a page table allocated over one would let a writer of that
// data rewrite the table (OSTD keeps page-table frames and untyped frames
// apart). It lists them here, as sorted, disjoint PFN ranges [start, end),
// and the allocator skips them.

let avoid: usize = 0;
let avoidCap: u32 = 0;
let avoidCount: u32 = 0;

/** The end of the avoided range that holds `pfn`, or 0 when none does. */
function avoidedEnd(pfn: u64): u64 {
  let lo: u32 = 0;
  let hi: u32 = avoidCount;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = avoid + ((mid as usize) << 4);
    if (pfn < load<u64>(r)) hi = mid;
    else if (pfn >= load<u64>(r, 8)) lo = mid + 1;
    else return load<u64>(r, 8);
  }
  return 0;
}

/**
 * Replaces the avoided ranges with the `n` (start, end) PFN pairs (u64 each,
 * sorted, disjoint) at `ptr`, and takes avoided frames off the free list.
 * False (nothing changed) when memory for the list runs out.
 */
export function allocAvoid(ptr: usize, n: u32): bool {
  if (!ASC_FEATURE_THREADS) return allocAvoid_(ptr, n);
  enter();
  const r = allocAvoid_(ptr, n);
  leave();
  return r;
}

@inline function allocAvoid_(ptr: usize, n: u32): bool {
  if (n > avoidCap) {
    const bytes = (((n as u64) * 16 + PAGE_SIZE - 1) / PAGE_SIZE) * PAGE_SIZE;
    if (bytes > 0xffffffff) return false;
    const buf = hostAlloc(bytes as u32);
    if (buf == 0) return false;
    for (let p: u64 = 0; p < (avoidCap as u64) * 16; p += PAGE_SIZE) hostRelease(avoid + (p as usize));
    avoid = buf;
    avoidCap = (bytes / 16) as u32;
  }
  memory.copy(avoid, ptr, (n as usize) << 4);
  avoidCount = n;
  if (n == 0) return true;
  // Compact each chunk of the free list, keeping the order of what stays.
  let prev: usize = 0;
  for (let c = freeChunk; c != 0; ) {
    const next = load<u32>(c) as usize;
    const count = load<u32>(c, 4);
    let kept: u32 = 0;
    for (let i: u32 = 0; i < count; i++) {
      const pfn = load<u64>(c + 8 + (i << 3));
      if (avoidedEnd(pfn) == 0) store<u64>(c + 8 + (kept++ << 3), pfn);
    }
    if (kept == 0) {
      if (prev == 0) freeChunk = next;
      else store<u32>(prev, next as u32);
      hostRelease(c);
    } else {
      store<u32>(c, kept, 4);
      prev = c;
    }
    c = next;
  }
  return true;
}

function freeChunkRelease(c: usize): void {
  hostRelease(c);
}

@inline function fail(status: u32): u64 {
  store<u32>(mailbox, status);
  return 0;
}

// ---- Allocator state, for snapshots ----

export function allocNextPfn(): u64 {
  if (!ASC_FEATURE_THREADS) return allocNextPfn_();
  enter();
  const r = allocNextPfn_();
  leave();
  return r;
}

@inline function allocNextPfn_(): u64 {
  return allocNext;
}

/** Frames on the free list. */
export function freeListCount(): u32 {
  if (!ASC_FEATURE_THREADS) return freeListCount_();
  enter();
  const r = freeListCount_();
  leave();
  return r;
}

@inline function freeListCount_(): u32 {
  let n: u32 = 0;
  for (let c = freeChunk; c != 0; c = load<u32>(c) as usize) n += load<u32>(c, 4);
  return n;
}

/** Writes the free list's PFNs (bottom of the stack first, at most `max`) as u64 at `out`; returns how many. */
export function freeListRead(out: usize, max: u32): u32 {
  if (!ASC_FEATURE_THREADS) return freeListRead_(out, max);
  enter();
  const r = freeListRead_(out, max);
  leave();
  return r;
}

@inline function freeListRead_(out: usize, max: u32): u32 {
  // Chunks link newest first: collect them, then write oldest first.
  let chunks: u32 = 0;
  for (let c = freeChunk; c != 0; c = load<u32>(c) as usize) chunks++;
  let n: u32 = 0;
  for (let k = chunks; k > 0 && n < max; k--) {
    let c = freeChunk;
    for (let j: u32 = 1; j < k; j++) c = load<u32>(c) as usize;
    const count = load<u32>(c, 4);
    for (let i: u32 = 0; i < count && n < max; i++) {
      store<u64>(out + ((n as usize) << 3), load<u64>(c + 8 + (i << 3)));
      n++;
    }
  }
  return n;
}

/**
 * Replaces the allocator's state: the next PFN to try and the free list (`n`
 * PFNs at `ptr`, bottom first). All or nothing: the new list is built before
 * the old one is let go, so running out of memory (false) changes nothing.
 */
export function allocRestore(next: u64, ptr: usize, n: u32): bool {
  if (!ASC_FEATURE_THREADS) return allocRestore_(next, ptr, n);
  enter();
  const r = allocRestore_(next, ptr, n);
  leave();
  return r;
}

@inline function allocRestore_(next: u64, ptr: usize, n: u32): bool {
  let head: usize = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (head == 0 || load<u32>(head, 4) == CHUNK_CAPACITY) {
      const c = hostAlloc(PAGE_SIZE);
      if (c == 0) {
        while (head != 0) {
          const prev = load<u32>(head) as usize;
          hostRelease(head);
          head = prev;
        }
        return false;
      }
      store<u32>(c, head as u32);
      head = c;
    }
    const count = load<u32>(head, 4);
    store<u64>(head + 8 + (count << 3), load<u64>(ptr + ((i as usize) << 3)));
    store<u32>(head, count + 1, 4);
  }
  while (freeChunk != 0) {
    const prev = load<u32>(freeChunk) as usize;
    hostRelease(freeChunk);
    freeChunk = prev;
  }
  freeChunk = head;
  allocNext = next;
  return true;
}

/** Gives frame `pfn` back: its storage is released (it reads as zero) and the allocator may hand it out again. */
export function freeFrame(pfn: u64): void {
  if (!ASC_FEATURE_THREADS) {
    freeFrame_(pfn);
    return;
  }
  enter();
  freeFrame_(pfn);
  leave();
}

@inline function freeFrame_(pfn: u64): void {
  // With several CPUs (the threads build) the frame keeps its storage, zeroed
  // (frames.ts frameRelease): another CPU's TLB may still hold it until the
  // OS's shootdown, and must then reach this frame, as hardware would.
  if (frameRelease(pfn) != 0) tlbForgetFrame(pfn << PAGE_SHIFT);
  if (avoidCount != 0 && avoidedEnd(pfn) != 0) return; // mapped as data by the owner layer: not for tables
  if (freeChunk == 0 || load<u32>(freeChunk, 4) == CHUNK_CAPACITY) {
    const c = hostAlloc(PAGE_SIZE);
    if (c == 0) return; // the frame is released; only its reuse is lost
    store<u32>(c, freeChunk as u32);
    freeChunk = c;
  }
  const count = load<u32>(freeChunk, 4);
  store<u64>(freeChunk + 8 + (count << 3), pfn);
  store<u32>(freeChunk, count + 1, 4);
}

// ---- Walking a tree for the builder ----

@inline function levelShift(level: u32): u64 {
  return PAGE_SHIFT + 9 * ((level - 1) as u64);
}

/** Frames taken before mapping, so the mapping itself cannot run out (a stack of PFNs in a host buffer). */
let reserve: usize = 0;
let reserveCap: u32 = 0;
let reserveCount: u32 = 0;

/** Reserve entries: u64 PFN, u64 1 when it came from the free list. */
function takeReserved(): u64 {
  reserveCount--;
  return load<u64>(reserve + ((reserveCount as usize) << 4));
}

function releaseReserve(): void {
  while (reserveCount > 0) freeFrame(takeReserved());
}

/**
 * Takes `n` frames (for new tables, and for mapFresh's pages) into the
 * reserve, in allocation order. False when they cannot be had: refused up
 * front when they cannot fit in linear memory, else (running out part-way)
 * every frame taken goes back where it came from, the allocator's state and
 * the journal's records as they were, so the refusal leaves no trace.
 */
function takeFrames(n: u32): bool {
  reserveCount = 0;
  if (n == 0) return true;
  if ((n as u64) * PAGE_SIZE > hostBytesFree()) {
    store<u32>(mailbox, STATUS_NO_MEMORY);
    return false;
  }
  if (n > reserveCap) {
    const bytes = (((n as u64) * 16 + PAGE_SIZE - 1) / PAGE_SIZE) * PAGE_SIZE;
    if (bytes > 0xffffffff) {
      store<u32>(mailbox, STATUS_NO_MEMORY);
      return false;
    }
    const buf = hostAlloc(bytes as u32);
    if (buf == 0) {
      store<u32>(mailbox, STATUS_NO_MEMORY);
      return false;
    }
    if (reserve != 0) for (let p: u64 = 0; p < (reserveCap as u64) * 16; p += PAGE_SIZE) hostRelease(reserve + (p as usize));
    reserve = buf;
    reserveCap = (bytes / 16) as u32;
  }
  const next0 = allocNext;
  journalMark();
  for (let i: u32 = 0; i < n; i++) {
    const f = allocFrame();
    if (f == 0) {
      const status = load<u32>(mailbox);
      // Back where each came from: fresh frames lose their storage, free-list frames return to it (in their order).
      while (reserveCount > 0) {
        reserveCount--;
        const pfn = load<u64>(reserve + ((reserveCount as usize) << 4));
        if (load<u64>(reserve + ((reserveCount as usize) << 4) + 8) != 0) freeFrame(pfn);
        else if (frameRelease(pfn) != 0) tlbForgetFrame(pfn << PAGE_SHIFT);
      }
      allocNext = next0;
      journalRollback();
      store<u32>(mailbox, status);
      return false;
    }
    store<u64>(reserve + ((reserveCount as usize) << 4), f - 1);
    store<u64>(reserve + ((reserveCount as usize) << 4) + 8, fromFreeList ? 1 : 0);
    reserveCount++;
  }
  return true;
}

const NONE: u64 = 0xffffffffffffffff;
/** Per level, the key of the last table counted by mapRange's first pass. */
const lastTableKey: usize = memory.data(6 * 8, 8);
const SPLITS: u64 = 0xfffffffffffffffe;

/**
 * Physical address of the table at `target` level that holds `va`'s entry, in
 * the tree at `root` with `levels` levels. Missing tables are created from the
 * reserve when `create`, else NONE is returned; SPLITS when a large page is in
 * the way.
 */
/** After tableFor(..., create = false) returned NONE: the level whose entry was not present. */
let missingLevel: u32 = 0;

function tableFor(root: u64, levels: u32, va: u64, target: u32, create: bool): u64 {
  let table = root;
  for (let level = levels; level > target; level--) {
    const ea = table + ((((va >> levelShift(level)) as u32) & 511) << 3);
    let e = physLoad(ea, 8);
    if ((e & P) == 0) {
      if (!create) {
        missingLevel = level;
        return NONE;
      }
      e = (takeReserved() << PAGE_SHIFT) | TABLE_FLAGS;
      physStore(ea, 8, e);
    } else if (level <= 3 && (e & PS) != 0) {
      return SPLITS;
    }
    table = e & ENTRY_ADDR_MASK;
  }
  return table;
}

/**
 * Maps `pages` pages of level `level` (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB) from
 * linear `va` to physical `pa`, with leaf flags `flags` (PS is added for large
 * pages), in the tree at `root`. Refuses (changing nothing) when a page of the
 * range is already mapped or a large page is in the way, or when the frames
 * its new tables need cannot be had (counted first: a mapping that cannot fit
 * is refused before any frame is taken). Returns a STATUS_*.
 *
 * With `fresh` (4 KiB pages, mapFresh), each page gets a zeroed frame from
 * the allocator instead of `pa + i * size`, taken with the tables' frames
 * before any entry is written (so a refusal changes nothing), in the order
 * a page-by-page map would take them; their addresses go to `out` (u64 each).
 */
export function mapRange(root: u64, levels: u32, va: u64, pa: u64, pages: u32, level: u32, flags: u64, fresh: bool = false, out: usize = 0): i32 {
  if (!ASC_FEATURE_THREADS) return mapRange_(root, levels, va, pa, pages, level, flags, fresh, out);
  enter();
  const r = mapRange_(root, levels, va, pa, pages, level, flags, fresh, out);
  leave();
  return r;
}

@inline function mapRange_(root: u64, levels: u32, va: u64, pa: u64, pages: u32, level: u32, flags: u64, fresh: bool = false, out: usize = 0): i32 {
  const shift = levelShift(level);
  const size: u64 = (1 as u64) << shift;
  // Pass 1: nothing may be mapped there yet; count the tables to create
  // (the table at level j that would hold v's entry is known by v >> (shift_j + 9)).
  let lastKey: u64 = NONE;
  let table: u64 = NONE;
  let need: u32 = 0;
  memory.fill(lastTableKey, 0xff, 6 * 8);
  for (let i: u32 = 0; i < pages; i++) {
    const v = va + (i as u64) * size;
    const key = v >> (shift + 9);
    if (key != lastKey) {
      table = tableFor(root, levels, v, level, false);
      lastKey = key;
      if (table == SPLITS) return status(STATUS_SPLITS_LARGE_PAGE);
      if (table == NONE) {
        for (let j = level; j < missingLevel; j++) {
          const k = v >> (levelShift(j) + 9);
          const slot = lastTableKey + ((j as usize) << 3);
          if (load<u64>(slot) != k) {
            store<u64>(slot, k);
            need++;
          }
        }
        // The rest of this missing table's pages need nothing more: skip them.
        const rest = ((((key + 1) << (shift + 9)) - v) >> shift) - 1;
        i += min(rest, ((pages - 1 - i) as u64)) as u32;
        continue;
      }
    }
    if (table != NONE) {
      const e = physLoad(table + ((((v >> shift) as u32) & 511) << 3), 8);
      // A table left empty by unmap may give way to a large page.
      if ((e & P) != 0 && (level == 1 || (e & PS) != 0 || !subtreeEmpty(e & ENTRY_ADDR_MASK, level - 1))) {
        store<u64>(mailbox, v, MB_PA);
        return status(STATUS_ALREADY_MAPPED);
      }
    }
  }
  // Take the frames the new tables (and fresh pages) need before writing any entry.
  if (fresh && (need as u64) + (pages as u64) > 0xffffffff) return status(STATUS_NO_MEMORY);
  if (!takeFrames(fresh ? need + pages : need)) return load<u32>(mailbox);
  // Pass 2: write the entries.
  const leafFlags = level > 1 ? flags | PS : flags;
  lastKey = NONE;
  let c: u32 = 0; // fresh: the next reserved frame, in allocation order
  for (let i: u32 = 0; i < pages; i++) {
    const v = va + (i as u64) * size;
    const key = v >> (shift + 9);
    let target = pa + (i as u64) * size;
    if (fresh) {
      target = load<u64>(reserve + ((c as usize) << 4)) << PAGE_SHIFT;
      store<u64>(out + ((i as usize) << 3), target);
      c++;
    }
    if (key != lastKey) {
      if (fresh) {
        // As a page-by-page map would: this page's frame first, then its new
        // tables, the highest level taking the last one.
        const m = tableFor(root, levels, v, level, false) == NONE ? missingLevel - level : 0;
        reserveCount = c + m;
        table = tableFor(root, levels, v, level, true);
        c += m;
      } else table = tableFor(root, levels, v, level, true);
      lastKey = key;
    }
    const ea = table + ((((v >> shift) as u32) & 511) << 3);
    const old = physLoad(ea, 8);
    if ((old & P) != 0) freeSubtree(old & ENTRY_ADDR_MASK, level - 1);
    physStore(ea, 8, target | leafFlags);
  }
  if (fresh) reserveCount = 0;
  releaseReserve();
  // No invalidation: the TLB never holds a translation for a page that was not present.
  return STATUS_OK;
}

/** True when the table at `table` (level `level`) maps nothing, directly or through its sub-tables. */
function subtreeEmpty(table: u64, level: u32): bool {
  for (let i: u64 = 0; i < 512; i++) {
    const e = physLoad(table + (i << 3), 8);
    if ((e & P) == 0) continue;
    if (level == 1 || (level <= 3 && (e & PS) != 0)) return false;
    if (!subtreeEmpty(e & ENTRY_ADDR_MASK, level - 1)) return false;
  }
  return true;
}

/** Frees an empty table and its (empty) sub-tables. */
function freeSubtree(table: u64, level: u32): void {
  if (level > 1) {
    for (let i: u64 = 0; i < 512; i++) {
      const e = physLoad(table + (i << 3), 8);
      if ((e & P) != 0) freeSubtree(e & ENTRY_ADDR_MASK, level - 1);
    }
  }
  freeFrame(table >> PAGE_SHIFT);
}

function status(s: i32): i32 {
  store<u32>(mailbox, s);
  return s;
}

function invalidate(va: u64, len: u64): void {
  if (len > 64 * PAGE_SIZE) {
    tlbFlushAll();
    return;
  }
  for (let off: u64 = 0; off < len; off += PAGE_SIZE) tlbFlushPage(va + off, -1, true);
}

/**
 * Visits the leaves mapped in [va, va + len) of the tree at `root`. `mode`:
 * 0 check only, 1 unmap (clear the leaf), 2 protect (replace PROTECT_BITS
 * with `flags`). Returns STATUS_SPLITS_LARGE_PAGE when a leaf reaches outside
 * the range (nothing is changed then, as mode 0 runs first).
 */
function visitLeaves(root: u64, levels: u32, va: u64, len: u64, mode: u32, flags: u64): i32 {
  const end = va + len;
  let v = va;
  while (v < end) {
    let table = root;
    let level = levels;
    let step: u64 = 0;
    while (true) {
      const shift = levelShift(level);
      const ea = table + ((((v >> shift) as u32) & 511) << 3);
      const e = physLoad(ea, 8);
      const pageSize: u64 = (1 as u64) << shift;
      if ((e & P) == 0) {
        step = pageSize - (v & (pageSize - 1));
        break;
      }
      if (level == 1 || (level <= 3 && (e & PS) != 0)) {
        if ((v & (pageSize - 1)) != 0 || end - v < pageSize) return status(STATUS_SPLITS_LARGE_PAGE);
        if (mode == 1) physStore(ea, 8, 0);
        else if (mode == 2) physStore(ea, 8, (e & ~PROTECT_BITS) | (flags & PROTECT_BITS));
        step = pageSize;
        break;
      }
      table = e & ENTRY_ADDR_MASK;
      level--;
    }
    if (step > end - v) break;
    v += step;
  }
  return STATUS_OK;
}

/** Clears every leaf in [va, va + len); refuses when the range splits a large page. Tables are kept. */
export function unmapRange(root: u64, levels: u32, va: u64, len: u64): i32 {
  if (!ASC_FEATURE_THREADS) return unmapRange_(root, levels, va, len);
  enter();
  const r = unmapRange_(root, levels, va, len);
  leave();
  return r;
}

@inline function unmapRange_(root: u64, levels: u32, va: u64, len: u64): i32 {
  const s = visitLeaves(root, levels, va, len, 0, 0);
  if (s != STATUS_OK) return s;
  visitLeaves(root, levels, va, len, 1, 0);
  invalidate(va, len);
  return STATUS_OK;
}

/** Replaces R/W, U/S, XD and the protection key of every leaf in [va, va + len). */
export function protectRange(root: u64, levels: u32, va: u64, len: u64, flags: u64): i32 {
  if (!ASC_FEATURE_THREADS) return protectRange_(root, levels, va, len, flags);
  enter();
  const r = protectRange_(root, levels, va, len, flags);
  leave();
  return r;
}

@inline function protectRange_(root: u64, levels: u32, va: u64, len: u64, flags: u64): i32 {
  const s = visitLeaves(root, levels, va, len, 0, 0);
  if (s != STATUS_OK) return s;
  visitLeaves(root, levels, va, len, 2, flags);
  invalidate(va, len);
  return STATUS_OK;
}
