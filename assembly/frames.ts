/**
 * Physical memory: a sparse store of 4 KiB frames in linear memory.
 *
 * The guest's physical address space reaches up to 2^MAXPHYADDR (at most
 * 2^52, i.e. 2^40 frames), far more than wasm32's 4 GiB of linear memory, so a
 * frame takes linear memory only once something is written to it. A frame never
 * written reads as zero. Frames are found three ways, fastest first:
 *
 *  - the low window: the first 256 MiB of physical memory at windowBase + pa,
 *    reserved on first use and committed by the host page by page as touched;
 *  - the low index: PFN -> host offset for the first 4 GiB, one load;
 *  - the radix tree for everything (above 256 MiB it is where frames live),
 *    behind a small frame cache. A three-level radix tree maps a physical
 *    frame number (PFN) to the linear-memory ("host") offset of its storage:
 *
 *     PFN (40 bits):  | 39 ........ 26 | 25 ........ 13 | 12 ......... 0 |
 *                        root index        node index       leaf index
 *                        (16384, static)   (8192 / node)    (8192 / leaf)
 *
 *     root[i]  -> host offset of a node (u32, 0 = none)
 *     node[j]  -> host offset of a leaf (u32, 0 = none)
 *     leaf[k]  -> host offset of the frame's 4 KiB (u32, 0 = never written)
 *
 * Host memory above the static data is handed out in 4 KiB units by a bump
 * pointer with a free list; linear memory grows on demand. Every allocation
 * reports failure (0) instead of trapping, so callers can refuse an operation
 * before changing anything.
 *
 * This file only stores frames: it knows nothing of who watches writes.
 * physmem.ts wraps allocation, release and stores with the notes the dirty
 * log and snapshots need (journal.ts), and is what the rest of the core calls.
 *
 * A small direct-mapped cache remembers the host offset of recently used
 * frames above 4 GiB: the page walker reads one entry per level, and the
 * cache turns the three radix loads into one compare on hot page tables.
 */

import { PAGE_SHIFT, PAGE_SIZE } from "../src/arch/bits";
import { perCpu } from "./percpu";
import { lockTake, lockGive, lockEpoch } from "./lock";

const ROOT_BITS: u32 = 14;
const NODE_BITS: u32 = 13;
const LEAF_BITS: u32 = 13;
const NODE_MASK: u32 = (1 << NODE_BITS) - 1;
const LEAF_MASK: u32 = (1 << LEAF_BITS) - 1;
/** Nodes and leaves are 32 KiB blocks aligned to 32 KiB, so the low 15 bits of
 *  a pointer to one are free: there the parent keeps the block's live-entry
 *  count, and an emptied block is given back at once. */
const BLOCK_BYTES: u32 = 32768;
const COUNT_MASK: u32 = BLOCK_BYTES - 1;

/** The radix root: 16384 u32 entries, allocated once in static memory. */
const root: usize = memory.data((1 << ROOT_BITS) * 4, 16);

// ---- Host (linear-memory) allocation ----

const WASM_PAGE: u32 = 65536;
const MAX_WASM_PAGES: i32 = 65536; // 4 GiB
const MAX_HOST_UNITS: u32 = 1 << 20; // 4 GiB / 4 KiB

/**
 * One u64 per 4 KiB unit of linear memory: PFN + 1 when the unit stores a
 * frame, 0 otherwise. It lets resetMemory() find every frame without a scan
 * of the radix tree. (8 MiB of linear memory, committed lazily by the host.)
 */
const unitPfn: usize = memory.data(MAX_HOST_UNITS * 8, 16);

/** First host byte past what has ever been handed out (u64: it may reach 2^32 exactly). */
let hostTop: u64 = 0;
const MEMORY_LIMIT: u64 = (MAX_WASM_PAGES as u64) * WASM_PAGE;
/** Lists of released 4 KiB units and 32 KiB blocks (linked through their first word). */
let hostFree: usize = 0;
let blockFree: usize = 0;
/** Host bytes handed out and not released. */
let hostInUse: u64 = 0;

// ---- Sharing (threads build, lock.ts) ----
//
// Several instances over one memory: the globals of this file are loaded
// from `home` under the lock and stored back before it is given up.
//
//   home: +0 hostTop  +8 hostFree  +16 blockFree  +24 hostInUse  +32 framesBacked
//         +40 pfnCeiling  +48 ceilingStale  +56 windowBase  +64 storageEpoch  +72 saved once

const home: usize = memory.data(80, 8);
let homeEpoch: u32 = 0;

function enter(): void {
  lockTake();
  if (homeEpoch == lockEpoch()) return;
  homeEpoch = lockEpoch();
  if (load<u32>(home, 72) == 0) return;
  hostTop = load<u64>(home);
  hostFree = load<u64>(home, 8) as usize;
  blockFree = load<u64>(home, 16) as usize;
  hostInUse = load<u64>(home, 24);
  framesBacked = load<u64>(home, 32) as u32;
  pfnCeiling = load<u64>(home, 40);
  ceilingStale = load<u64>(home, 48) != 0;
  windowBase = load<u64>(home, 56) as usize;
  storageEpoch = load<u64>(home, 64) as u32;
}

function leave(): void {
  store<u64>(home, hostTop);
  store<u64>(home, hostFree as u64, 8);
  store<u64>(home, blockFree as u64, 16);
  store<u64>(home, hostInUse, 24);
  store<u64>(home, framesBacked as u64, 32);
  store<u64>(home, pfnCeiling, 40);
  store<u64>(home, ceilingStale ? 1 : 0, 48);
  atomic.store<u64>(home, windowBase as u64, 56);
  store<u64>(home, storageEpoch as u64, 64);
  store<u32>(home, 1, 72);
  lockGive();
}

/**
 * The window's base as this instance knows it; in the threads build, looked
 * up again when not known yet (another CPU may have made the window: it
 * never moves once made).
 */
@inline export function windowFind(): usize {
  if (ASC_FEATURE_THREADS && windowBase == 0) windowBase = atomic.load<u64>(home, 56) as usize;
  return windowBase;
}

@inline function hostInit(): void {
  if (hostTop == 0) hostTop = ((__heap_base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) as u64;
}

/** Makes sure linear memory reaches `end`; false when it cannot grow that far. */
function ensureMemory(end: u64): bool {
  const have = (memory.size() as u64) * WASM_PAGE;
  if (end <= have) return true;
  const need = <i32>((end - have + WASM_PAGE - 1) / WASM_PAGE);
  const cur = memory.size();
  // Grow in steps of at least 16 MiB to keep memory.grow calls rare.
  let want = max(need, 256);
  if (cur + want > MAX_WASM_PAGES) want = need;
  if (cur + want > MAX_WASM_PAGES) return false;
  if (memory.grow(want) < 0) {
    if (want == need || memory.grow(need) < 0) return false;
  }
  return true;
}

/** One bit per 4 KiB unit of linear memory: set while the unit is on the hostFree list. */
const freeBits: usize = memory.data(MAX_HOST_UNITS / 8, 16);

@inline function freeBit(p: usize, on: bool): void {
  const w = freeBits + ((p >> (PAGE_SHIFT + 5)) << 2);
  const m: u32 = 1 << (((p >> PAGE_SHIFT) as u32) & 31);
  store<u32>(w, on ? load<u32>(w) | m : load<u32>(w) & ~m);
}

/** Puts unit `p` (zeroed but for its first word) on the free list. */
@inline function pushFree(p: usize): void {
  store<usize>(p, hostFree);
  hostFree = p;
  freeBit(p, true);
}

/** Takes the first unit off the free list. */
function popFree(): usize {
  const p = hostFree;
  hostFree = load<usize>(p);
  store<usize>(p, 0);
  freeBit(p, false);
  return p;
}

/** Bump-allocates `bytes` aligned to `align` from never-used memory; 0 when memory is exhausted. */
function hostBump(bytes: u32, align: u32): usize {
  hostInit();
  const p: u64 = (hostTop + align - 1) & ~((align as u64) - 1);
  // Offsets are u32: the last byte handed out must lie below 2^32.
  if (p + bytes > MEMORY_LIMIT || !ensureMemory(p + bytes)) return 0;
  // The alignment gap becomes free 4 KiB units.
  for (let q = hostTop; q < p; q += PAGE_SIZE) pushFree(q as usize);
  hostTop = p + bytes;
  return p as usize;
}

/**
 * When never-used memory has run out (the store filled once, then frames were
 * freed or memory reset): `bytes` aligned to `align` from released memory.
 * Free radix blocks are broken into units first; then a run of free units is
 * looked for (one bit per unit) and taken off the free list. 0 when there is
 * no such run.
 */
function reclaim(bytes: u32, align: u32): usize {
  while (blockFree != 0) {
    const b = blockFree;
    blockFree = load<usize>(b);
    store<usize>(b, 0);
    for (let q: usize = 0; q < BLOCK_BYTES; q += PAGE_SIZE) pushFree(b + q);
  }
  if (bytes == PAGE_SIZE) return hostFree != 0 ? popFree() : 0;
  hostInit();
  const units: u32 = bytes >> PAGE_SHIFT;
  const step: u32 = max<u32>(align >> PAGE_SHIFT, 1);
  const top: u32 = (hostTop >> PAGE_SHIFT) as u32;
  let run: u32 = 0;
  let start: u32 = 0;
  for (let u: u32 = 0; u < top; ) {
    // Skip whole words with no free unit.
    if ((u & 31) == 0 && load<u32>(freeBits + ((u >> 5) << 2)) == 0) {
      u += 32;
      run = 0;
      continue;
    }
    if ((load<u32>(freeBits + ((u >> 5) << 2)) & (1 << (u & 31))) != 0) {
      if (run == 0) {
        if (u % step != 0) {
          u++;
          continue;
        }
        start = u;
      }
      run++;
      if (run == units) return takeRun((start as usize) << PAGE_SHIFT, bytes);
    } else run = 0;
    u++;
  }
  return 0;
}

/** Takes the free units [p, p + bytes) off the free list. */
function takeRun(p: usize, bytes: u32): usize {
  const end = p + bytes;
  let prev: usize = 0;
  let q = hostFree;
  while (q != 0) {
    const next = load<usize>(q);
    if (q >= p && q < end) {
      if (prev == 0) hostFree = next;
      else store<usize>(prev, next);
      store<usize>(q, 0);
      freeBit(q, false);
    } else prev = q;
    q = next;
  }
  return p;
}

/**
 * Hands out `bytes` (a multiple of 4 KiB) of zeroed host memory, aligned to
 * 4 KiB; 0 when linear memory cannot grow and no released run is left.
 */
export function hostAlloc(bytes: u32): usize {
  if (!ASC_FEATURE_THREADS) return hostAlloc_(bytes);
  enter();
  const r = hostAlloc_(bytes);
  leave();
  return r;
}

@inline function hostAlloc_(bytes: u32): usize {
  let p: usize;
  if (bytes == PAGE_SIZE && hostFree != 0) {
    p = popFree();
  } else {
    p = hostBump(bytes, PAGE_SIZE);
    if (p == 0) p = reclaim(bytes, PAGE_SIZE);
    if (p == 0) return 0;
  }
  hostInUse += bytes;
  return p;
}

/** Gives back one 4 KiB unit from hostAlloc; it is zeroed before reuse. */
export function hostRelease(p: usize): void {
  if (!ASC_FEATURE_THREADS) {
    hostRelease_(p);
    return;
  }
  enter();
  hostRelease_(p);
  leave();
}

@inline function hostRelease_(p: usize): void {
  memory.fill(p, 0, PAGE_SIZE);
  pushFree(p);
  hostInUse -= PAGE_SIZE;
}

/** A zeroed, 32 KiB-aligned radix block; 0 when memory is exhausted. */
function blockAlloc(): usize {
  let p: usize;
  if (blockFree != 0) {
    p = blockFree;
    blockFree = load<usize>(p);
    store<usize>(p, 0);
  } else {
    p = hostBump(BLOCK_BYTES, BLOCK_BYTES);
    if (p == 0) p = reclaim(BLOCK_BYTES, BLOCK_BYTES);
    if (p == 0) return 0;
  }
  hostInUse += BLOCK_BYTES;
  return p;
}

/** Releases a radix block whose entries are all zero again. */
function blockRelease(p: usize): void {
  store<usize>(p, blockFree);
  blockFree = p;
  hostInUse -= BLOCK_BYTES;
}

/** Bytes of linear memory not in use: an upper bound on what new frames can still get (radix blocks take some too). */
export function hostBytesFree(): u64 {
  if (!ASC_FEATURE_THREADS) return hostBytesFree_();
  enter();
  const r = hostBytesFree_();
  leave();
  return r;
}

@inline function hostBytesFree_(): u64 {
  return MEMORY_LIMIT - hostInUse;
}

/** Bytes of linear memory in use for frames, radix blocks and buffers. */
export function hostBytesInUse(): u64 {
  if (!ASC_FEATURE_THREADS) return hostBytesInUse_();
  enter();
  const r = hostBytesInUse_();
  leave();
  return r;
}

@inline function hostBytesInUse_(): u64 {
  return hostInUse;
}

// ---- The frame cache ----

const CACHE_BITS: u32 = 12;
const CACHE_MASK: u32 = (1 << CACHE_BITS) - 1;
/** Entries of 16 bytes: u64 PFN + 1 (0 = empty), u32 host offset, u32 pad. */
const cache: usize = ASC_FEATURE_THREADS ? perCpu((1 << CACHE_BITS) * 16, 16) : memory.data((1 << CACHE_BITS) * 16, 16);

@inline function cacheSlot(pfn: u64): usize {
  return cache + ((((pfn as u32) ^ ((pfn >> CACHE_BITS) as u32)) & CACHE_MASK) << 4);
}

// ---- The table memo ----
//
// A walk reads one entry from one table per level, and consecutive walks
// mostly reuse the same upper tables: one remembered (table frame -> host
// offset) per level makes those lookups a single compare.
//
//   entry (16 bytes) per level 0..5: +0 u64 PFN + 1 (0 = empty), +8 u32 host

const memo: usize = ASC_FEATURE_THREADS ? perCpu(6 * 16, 16) : memory.data(6 * 16, 16);

/** Host offset of the table frame `pfn` read at walk level `level`; 0 if it has no storage. */
@inline export function tableHost(pfn: u64, level: i32): usize {
  const m = memo + ((level as usize) << 4);
  if (load<u64>(m) == pfn + 1) return load<u32>(m, 8);
  const host = frameHost(pfn);
  if (host != 0) {
    store<u64>(m, pfn + 1);
    store<u32>(m, host as u32, 8);
  }
  return host;
}

// ---- Frame lookup ----

/** Number of 4 KiB frames that hold storage. */
let framesBacked: u32 = 0;
/** Highest PFN that holds storage, +1 (for MAXPHYADDR changes); recomputed when stale. */
let pfnCeiling: u64 = 0;
/** The frame at pfnCeiling - 1 lost its storage: the ceiling may be lower (highestBackedPfnPlusOne recomputes it). */
let ceilingStale: bool = false;

@inline function rootSlotOf(pfn: u64): usize {
  return root + (((pfn >> (NODE_BITS + LEAF_BITS)) as usize) << 2);
}
@inline function nodeSlotOf(node: usize, pfn: u64): usize {
  return node + ((((pfn >> LEAF_BITS) as u32) & NODE_MASK) << 2);
}
@inline function leafSlotOf(leaf: usize, pfn: u64): usize {
  return leaf + (((pfn as u32) & LEAF_MASK) << 2);
}

// ---- The low window ----
//
// The first 256 MiB of physical memory, where guests keep their page tables
// and most data (and where the frame allocator starts), live in one window of
// linear memory at windowBase + pa, reserved at the first use of such a frame
// (the host commits its pages only as they are touched). There a frame never
// written reads as zero by construction, so the walker reads a table entry
// with one load from its physical address, as a flat array would.

export const WINDOW_PFNS: u64 = 1 << 16;
export const WINDOW_BYTES: u64 = WINDOW_PFNS << PAGE_SHIFT;
/** Linear-memory offset of physical address 0 in the window; 0 until the window exists. */
export let windowBase: usize = 0;

/** One bit per window frame that holds data, so scans of all frames skip the window's empty pages. */
const windowBits: usize = memory.data((WINDOW_PFNS as i32) / 8, 16);

@inline function setWindowBit(pfn: u64, on: bool): void {
  const w = windowBits + (((pfn >> 6) as usize) << 3);
  const m: u64 = (1 as u64) << (pfn & 63);
  store<u64>(w, on ? load<u64>(w) | m : load<u64>(w) & ~m);
}

/** The first window frame >= `pfn` that holds data, or WINDOW_PFNS. */
function windowNext(pfn: u64): u64 {
  while (pfn < WINDOW_PFNS) {
    const word = load<u64>(windowBits + (((pfn >> 6) as usize) << 3)) >> (pfn & 63);
    if (word != 0) return pfn + ctz(word);
    pfn = (pfn | 63) + 1;
  }
  return WINDOW_PFNS;
}

/** The window's storage for frame `pfn` (< WINDOW_PFNS), creating the window first; 0 when memory is exhausted. */
function windowFrame(pfn: u64): usize {
  if (windowBase == 0) {
    let p = hostBump(WINDOW_BYTES as u32, PAGE_SIZE);
    if (p == 0) p = reclaim(WINDOW_BYTES as u32, PAGE_SIZE);
    if (p == 0) return 0;
    // Released units are zero but for their first word (the free-list link, cleared by takeRun).
    windowBase = p;
  }
  return windowBase + ((pfn as usize) << PAGE_SHIFT);
}

// ---- The low-memory index ----
//
// Most guests keep their page tables and most data in the first 4 GiB of
// physical memory: for those frames a flat array maps PFN -> host offset in
// one load (4 MiB of linear memory, committed lazily), beside the radix tree
// that stays the authority for every frame.

const LOW_PFNS: u64 = 1 << 20;
const lowHost: usize = memory.data((LOW_PFNS as i32) * 4, 16);

@inline function setLowHost(pfn: u64, host: usize): void {
  if (pfn < LOW_PFNS) store<u32>(lowHost + ((pfn as usize) << 2), host as u32);
}

/** Host offset of frame `pfn`'s storage, or 0 if it was never written. */
export function frameHost(pfn: u64): usize {
  if (pfn < LOW_PFNS) return load<u32>(lowHost + ((pfn as usize) << 2));
  const slot = cacheSlot(pfn);
  if (load<u64>(slot) == pfn + 1) return load<u32>(slot, 8);
  const node = load<u32>(rootSlotOf(pfn)) & ~COUNT_MASK;
  if (node == 0) return 0;
  const leaf = load<u32>(nodeSlotOf(node, pfn)) & ~COUNT_MASK;
  if (leaf == 0) return 0;
  const host = load<u32>(leafSlotOf(leaf, pfn));
  if (host != 0) {
    store<u64>(slot, pfn + 1);
    store<u32>(slot, host, 8);
  }
  return host;
}

/**
 * Host offset of frame `pfn`'s storage, giving it zeroed storage first if it
 * has none; 0 when linear memory is exhausted (then nothing changed that a
 * reader could see).
 */
export function frameAlloc(pfn: u64): usize {
  if (!ASC_FEATURE_THREADS) return frameAlloc_(pfn);
  frameFresh = false;
  const host = frameHost(pfn);
  if (host != 0) return host;
  enter();
  const r = frameAlloc_(pfn);
  leave();
  return r;
}

@inline function frameAlloc_(pfn: u64): usize {
  frameFresh = false;
  const host = frameHost(pfn);
  if (host != 0) return host;
  if (pfn < WINDOW_PFNS) {
    const frame = windowFrame(pfn);
    if (frame == 0) return 0;
    hostInUse += PAGE_SIZE;
    return linkFrame(pfn, frame);
  }
  const rootSlot = rootSlotOf(pfn);
  let node = (load<u32>(rootSlot) & ~COUNT_MASK) as usize;
  let newNode = false;
  if (node == 0) {
    node = blockAlloc();
    if (node == 0) return 0;
    newNode = true;
  }
  const nodeSlot = nodeSlotOf(node, pfn);
  let leaf = (load<u32>(nodeSlot) & ~COUNT_MASK) as usize;
  let newLeaf = false;
  if (leaf == 0) {
    leaf = blockAlloc();
    if (leaf == 0) {
      if (newNode) blockRelease(node);
      return 0;
    }
    newLeaf = true;
  }
  const frame = hostAlloc(PAGE_SIZE);
  if (frame == 0) {
    if (newLeaf) blockRelease(leaf);
    if (newNode) blockRelease(node);
    return 0;
  }
  // Nothing can fail from here on: link the blocks and count the entries.
  if (newNode) store<u32>(rootSlot, node as u32);
  if (newLeaf) {
    store<u32>(nodeSlot, leaf as u32);
    store<u32>(rootSlot, load<u32>(rootSlot) + 1);
  }
  store<u32>(leafSlotOf(leaf, pfn), frame as u32);
  store<u32>(nodeSlot, load<u32>(nodeSlot) + 1);
  return linkFrame(pfn, frame);
}

/**
 * Bumped whenever a frame's storage is released (and by journal.ts when a new
 * generation starts): a host offset or a write note taken before may be stale
 * when it changed, so the host layer looks storage up again after callbacks.
 */
export let storageEpoch: u32 = 0;
export function bumpStorageEpoch(): void {
  storageEpoch++;
}

/** Set by frameAlloc: the frame had no storage and got it (zeroed) just now. */
export let frameFresh: bool = false;

/** Records that frame `pfn` is stored at `frame` (zeroed). */
function linkFrame(pfn: u64, frame: usize): usize {
  store<u64>(unitPfn + ((frame >> PAGE_SHIFT) << 3), pfn + 1);
  if (pfn < WINDOW_PFNS) setWindowBit(pfn, true);
  setLowHost(pfn, frame);
  framesBacked++;
  if (pfn + 1 > pfnCeiling) pfnCeiling = pfn + 1;
  frameFresh = true;
  return frame;
}

/** The PFN whose storage is the unit at `host`. */
export function unitPfnOf(host: usize): u64 {
  return load<u64>(unitPfn + ((host >> PAGE_SHIFT) << 3)) - 1;
}

/**
 * Drops frame `pfn`'s storage: it reads as zero again. Returns the host offset
 * it had (0 if none), so the caller can forget cached pointers to it.
 */
export function frameRelease(pfn: u64): usize {
  if (!ASC_FEATURE_THREADS) return frameRelease_(pfn);
  // Several CPUs: the storage stays, zeroed. Another CPU may hold its host
  // offset (TLB, frame cache) and must not reach storage since given to
  // another frame; memory reset, which would release everything, is refused.
  const host = frameHost(pfn);
  if (host != 0) memory.fill(host, 0, PAGE_SIZE);
  return host;
}

@inline function frameRelease_(pfn: u64): usize {
  const host = frameHost(pfn);
  if (host == 0) return 0;
  if (pfn + 1 == pfnCeiling) ceilingStale = true;
  storageEpoch++;
  if (pfn < WINDOW_PFNS) {
    // A window frame stays in place, zeroed: it reads as zero again.
    memory.fill(host, 0, PAGE_SIZE);
    setLowHost(pfn, 0);
    setWindowBit(pfn, false);
    memory.fill(memo, 0, 6 * 16);
    store<u64>(unitPfn + ((host >> PAGE_SHIFT) << 3), 0);
    hostInUse -= PAGE_SIZE;
    framesBacked--;
    return host;
  }
  const rootSlot = rootSlotOf(pfn);
  const node = (load<u32>(rootSlot) & ~COUNT_MASK) as usize;
  const nodeSlot = nodeSlotOf(node, pfn);
  const leaf = (load<u32>(nodeSlot) & ~COUNT_MASK) as usize;
  store<u32>(leafSlotOf(leaf, pfn), 0);
  const leafLive = (load<u32>(nodeSlot) & COUNT_MASK) - 1;
  if (leafLive == 0) {
    store<u32>(nodeSlot, 0);
    blockRelease(leaf);
    const nodeLive = (load<u32>(rootSlot) & COUNT_MASK) - 1;
    if (nodeLive == 0) {
      store<u32>(rootSlot, 0);
      blockRelease(node);
    } else {
      store<u32>(rootSlot, (node as u32) | nodeLive);
    }
  } else {
    store<u32>(nodeSlot, (leaf as u32) | leafLive);
  }
  const slot = cacheSlot(pfn);
  if (load<u64>(slot) == pfn + 1) store<u64>(slot, 0);
  setLowHost(pfn, 0);
  memory.fill(memo, 0, 6 * 16);
  store<u64>(unitPfn + ((host >> PAGE_SHIFT) << 3), 0);
  hostRelease(host);
  framesBacked--;
  return host;
}

/** Walking every unit of host memory outside the window (window frames are found through windowBits). */
@inline function firstUnit(): u64 {
  return skipWindow(((__heap_base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) as u64);
}
@inline function nextUnit(p: u64): u64 {
  return skipWindow(p + PAGE_SIZE);
}
@inline function skipWindow(p: u64): u64 {
  return windowBase != 0 && p == (windowBase as u64) ? p + WINDOW_BYTES : p;
}

/** Drops every frame's storage: all of physical memory reads as zero. */
export function framesReset(): void {
  if (!ASC_FEATURE_THREADS) {
    framesReset_();
    return;
  }
  enter();
  framesReset_();
  leave();
}

@inline function framesReset_(): void {
  hostInit();
  for (let pfn = windowNext(0); pfn < WINDOW_PFNS; pfn = windowNext(pfn + 1)) frameRelease(pfn);
  for (let p = firstUnit(); p < hostTop; p = nextUnit(p)) {
    const tag = load<u64>(unitPfn + (((p >> PAGE_SHIFT) as usize) << 3));
    if (tag != 0) frameRelease(tag - 1);
  }
  pfnCeiling = 0;
  ceilingStale = false;
}

/** Writes the PFN of every frame with storage (u64 each, at most `max`) at `out`; returns how many. */
export function framesList(out: usize, max: u32): u32 {
  if (!ASC_FEATURE_THREADS) return framesList_(out, max);
  enter();
  const r = framesList_(out, max);
  leave();
  return r;
}

@inline function framesList_(out: usize, max: u32): u32 {
  hostInit();
  let n: u32 = 0;
  for (let pfn = windowNext(0); pfn < WINDOW_PFNS && n < max; pfn = windowNext(pfn + 1)) {
    store<u64>(out + ((n as usize) << 3), pfn);
    n++;
  }
  for (let p = firstUnit(); p < hostTop && n < max; p = nextUnit(p)) {
    const tag = load<u64>(unitPfn + (((p >> PAGE_SHIFT) as usize) << 3));
    if (tag != 0) {
      store<u64>(out + ((n as usize) << 3), tag - 1);
      n++;
    }
  }
  return n;
}

/** True when some frame in [start, end) holds storage (by page number or by unit, whichever is fewer). */
export function anyBackedIn(start: u64, end: u64): bool {
  if (!ASC_FEATURE_THREADS) return anyBackedIn_(start, end);
  enter();
  const r = anyBackedIn_(start, end);
  leave();
  return r;
}

@inline function anyBackedIn_(start: u64, end: u64): bool {
  if (end <= start) return false;
  if (end - start <= (framesBacked as u64)) {
    for (let pfn = start; pfn < end; pfn++) if (frameHost(pfn) != 0) return true;
    return false;
  }
  hostInit();
  if (start < WINDOW_PFNS && windowNext(start) < min(end, WINDOW_PFNS)) return true;
  for (let p = firstUnit(); p < hostTop; p = nextUnit(p)) {
    const tag = load<u64>(unitPfn + (((p >> PAGE_SHIFT) as usize) << 3));
    if (tag != 0 && tag - 1 >= start && tag - 1 < end) return true;
  }
  return false;
}

export function framesInUse(): u32 {
  if (!ASC_FEATURE_THREADS) return framesInUse_();
  enter();
  const r = framesInUse_();
  leave();
  return r;
}

@inline function framesInUse_(): u32 {
  return framesBacked;
}

/** One past the highest PFN that holds storage now (not ever: freed frames and restored snapshots lower it). */
export function highestBackedPfnPlusOne(): u64 {
  if (!ASC_FEATURE_THREADS) return highestBackedPfnPlusOne_();
  enter();
  const r = highestBackedPfnPlusOne_();
  leave();
  return r;
}

@inline function highestBackedPfnPlusOne_(): u64 {
  if (ceilingStale) {
    hostInit();
    let top: u64 = 0;
    for (let pfn = windowNext(0); pfn < WINDOW_PFNS; pfn = windowNext(pfn + 1)) top = pfn + 1;
    for (let p = firstUnit(); p < hostTop; p = nextUnit(p)) {
      const tag = load<u64>(unitPfn + (((p >> PAGE_SHIFT) as usize) << 3));
      if (tag > top) top = tag;
    }
    pfnCeiling = top;
    ceilingStale = false;
  }
  return pfnCeiling;
}

// ---- Physical reads and writes (little-endian) ----

/** Reads `size` (1, 2, 4 or 8) bytes at physical `pa`; the access must not cross a frame. */
@inline export function physLoad(pa: u64, size: u32): u64 {
  const host = frameHost(pa >> PAGE_SHIFT);
  if (host == 0) return 0;
  const p = host + ((pa as u32) & (PAGE_SIZE - 1));
  if (size == 8) return load<u64>(p);
  if (size == 4) return load<u32>(p) as u64;
  if (size == 2) return load<u16>(p) as u64;
  return load<u8>(p) as u64;
}
