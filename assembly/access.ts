/**
 * Translate, translate-and-load, translate-and-store, their batch forms, and
 * range translation for bulk copies: the hot paths.
 *
 * Every entry point tries the TLB first (a tag compare, a rights bit and an
 * add); everything else (walks, faults, page-crossing accesses, frames that
 * have no storage yet) is on the slow path. A linear address crosses the
 * JS/wasm boundary as two u32 halves, or as u64 words in a batch buffer.
 *
 * A page-crossing access translates the first page (setting its flags), then
 * the second; only when both are allowed does a store write any byte.
 */

import { ACCESS_OP_MASK, ACCESS_SIZE_SHIFT, ACCESS_WRITE, PAGE_SHIFT, PAGE_SIZE, LEVEL_PT } from "../src/arch/bits";
import {
  STATUS_OK, STATUS_PF, STATUS_GP, STATUS_NPF, MB_EXITINFO1_HI, STATUS_NO_MEMORY, STATUS_PHYS_RANGE, MB_STATUS, MB_ERROR_CODE,
  MB_FAULT_ADDR, MB_VALUE_HI, MB_PA, MAILBOX_BYTES, BATCH_FAULT_BIT, BATCH_SECOND_PAGE_BIT, SEGMENT_BYTES,
  STATUS_SPECIAL, SEGMENT_SPECIAL,
} from "../src/arch/abi";
import { frameHost } from "./frames";
import { perCpu } from "./percpu";
import { frameHostOrAlloc } from "./physmem";
import { exitInfo1, exitInfo2 } from "./nested";
import { countHits, countMiss, countFastMisses } from "./stats";
import { noteWrite } from "./journal";
import { anySpecial, physSpecial, pageSpecial } from "./special";
import { walk, walkFast, WALK_OK, WALK_PF, WALK_NPF, faultCode, faultAddr, walkFrame, walkLevel, walkShift, walkAllow, walkGlobal } from "./walk";
import { missFast, missFastApplies, missFastLanes, laneOut, LANES, pdeHolds, isCanonical, walkFastFrame, walkFastAllow, walkFastGlobal, walkFastLevel, walkFastShift } from "./walk";
import { tlb, tlbSlot, tlbFill, tlbFillDirect, tlbFind, tlbFlushPage, tlbPcid, tlbWays, slotSalt, tlbSetMask, tlbWayShift, TLB_ENTRY, TLB_SPECIAL, TLB_GLOBAL } from "./tlb";
import { maxPhyAddr, pagingLevels } from "./state";

export const mailbox: usize = ASC_FEATURE_THREADS ? perCpu(MAILBOX_BYTES, 16) : memory.data(MAILBOX_BYTES, 16);

const PAGE_MASK: u64 = ~((PAGE_SIZE - 1) as u64);

/**
 * The page after `la`'s: outside long mode linear addresses wrap at 4 GiB,
 * so an access crossing 0xffffffff continues at linear 0.
 */
@inline function nextPage(la: u64): u64 {
  const next = (la & PAGE_MASK) + PAGE_SIZE;
  return pagingLevels < 4 ? next & 0xffffffff : next;
}
const OFFSET_MASK: u32 = PAGE_SIZE - 1;
const PAGE: u32 = PAGE_SIZE;

@inline function sizeOf(acc: u32): u32 {
  const s = (acc >> ACCESS_SIZE_SHIFT) & 15;
  return s == 0 ? 1 : s;
}

@inline function hits(e: usize, la: u64, acc: u32): bool {
  return load<u64>(e) == ((la & PAGE_MASK) ^ tlbPcid) && ((load<u16>(e, 20) >> (acc & 15)) & 1) != 0;
}

export function reportFault(status: i32): void {
  if (status == WALK_NPF) {
    store<u32>(mailbox, STATUS_NPF, MB_STATUS);
    store<u32>(mailbox, exitInfo1 as u32, MB_ERROR_CODE);
    store<u32>(mailbox, (exitInfo1 >> 32) as u32, MB_EXITINFO1_HI);
    store<u64>(mailbox, exitInfo2, MB_FAULT_ADDR);
    store<u64>(mailbox, faultAddr, MB_PA); // the guest-linear address whose translation faulted
    return;
  }
  store<u32>(mailbox, status == WALK_PF ? STATUS_PF : STATUS_GP, MB_STATUS);
  store<u32>(mailbox, faultCode, MB_ERROR_CODE);
  store<u64>(mailbox, faultAddr, MB_FAULT_ADDR);
}

@inline function reportStatus(status: u32): void {
  store<u32>(mailbox, status, MB_STATUS);
}

/**
 * The TLB slot that translates `la` for `acc`, walking and filling it on a
 * miss; 0 on a fault (reported in the mailbox).
 */
export function lookup(la: u64, acc: u32): usize {
  const e = tlbSlot(la);
  if (hits(e, la, acc)) {
    countHits(1);
    return e;
  }
  // Another way of the set, or a global entry filled under another PCID (tlb.ts tlbFind).
  const g = tlbFind(la, acc);
  if (g != 0) {
    countHits(1);
    return g;
  }
  countMiss();
  let r = walkFast(la, acc);
  if (r != WALK_OK) r = walk(la, acc, true);
  if (r != WALK_OK) {
    // A page fault invalidates the TLB entries of the faulting page (SDM 4.10.4.1).
    if (r == WALK_PF) tlbFlushPage(la, -1, true);
    reportFault(r);
    return 0;
  }
  return tlbFill(la, walkFrame, walkLevel, walkShift, walkAllow, walkGlobal);
}

/** What entryReadHost/entryWriteHost return for a device or hooked page: the host performs the access. */
const SPECIAL_HOST: usize = 1;

/** Storage for reading the frame an entry maps (remembered in the entry); 0 if never written. */
function entryReadHost(e: usize): usize {
  if ((load<u8>(e, 23) & TLB_SPECIAL) != 0) return SPECIAL_HOST;
  let host = load<u32>(e, 16) as usize;
  if (host != 0) return host;
  host = frameHost(load<u64>(e, 8) >> PAGE_SHIFT);
  if (host != 0) store<u32>(e, host as u32, 16);
  return host;
}

/**
 * Storage for writing the frame an entry maps, given storage if it has none
 * and noted for the dirty log and snapshots; remembered in the entry so the
 * next write takes the fast path. 0 when memory is exhausted.
 */
function entryWriteHost(e: usize): usize {
  if ((load<u8>(e, 23) & TLB_SPECIAL) != 0) return SPECIAL_HOST;
  let host = load<u32>(e, 24) as usize;
  if (host != 0) return host;
  host = frameHostOrAlloc(load<u64>(e, 8) >> PAGE_SHIFT);
  if (host == 0) return 0;
  store<u32>(e, host as u32, 16);
  if (!noteWrite(host)) return 0;
  store<u32>(e, host as u32, 24);
  return host;
}

/** Reports an access the host must perform (a device or hooked page): STATUS_SPECIAL, with the physical address of its first byte. */
function reportSpecial(e1: usize, la: u64): i32 {
  store<u32>(mailbox, STATUS_SPECIAL, MB_STATUS);
  store<u64>(mailbox, load<u64>(e1, 8) | (la & ~PAGE_MASK), MB_PA);
  return STATUS_SPECIAL;
}

@inline function readHost(p: usize, size: u32): u64 {
  if (size == 8) return load<u64>(p);
  if (size == 4) return load<u32>(p) as u64;
  if (size == 2) return load<u16>(p) as u64;
  return load<u8>(p) as u64;
}

@inline function writeHost(p: usize, size: u32, v: u64): void {
  if (size == 8) store<u64>(p, v);
  else if (size == 4) store<u32>(p, v as u32);
  else if (size == 2) store<u16>(p, v as u16);
  else store<u8>(p, v as u8);
}

// ---- Translate ----

/** Second page of an access that crosses a page boundary; 0 on a fault. */
@inline function crossesPage(la: u64, size: u32): bool {
  return ((la as u32) & OFFSET_MASK) + size > PAGE;
}

function translateSlow(la: u64, acc: u32): f64 {
  const out = translateOneSlow(la, acc, sizeOf(acc));
  return (out >> BATCH_FAULT_BIT) != 0 ? -1 : <f64>out;
}

/**
 * Translates linear address hi:lo for access `acc` (ACCESS_* bits with the
 * size): the physical address of its first byte, or -1 with the fault in the
 * mailbox. A page-crossing access translates both pages.
 */
export function translate(lo: u32, hi: u32, acc: u32): f64 {
  const la = ((hi as u64) << 32) | (lo as u64);
  const e = tlbSlot(la);
  if (hits(e, la, acc) && !crossesPage(la, sizeOf(acc))) {
    countHits(1);
    return <f64>(load<u64>(e, 8) | (lo & OFFSET_MASK));
  }
  return translateSlow(la, acc);
}

/**
 * Translates `n` addresses (u64 words at `inPtr`) for `acc`, writing one u64
 * per address at `outPtr`: the physical address, or a fault word (abi.ts,
 * BATCH_FAULT_BIT). Returns the number of faults.
 */
export function translateBatch(inPtr: usize, outPtr: usize, n: u32, acc: u32): u32 {
  // Two loops in two functions, so each keeps its values in registers: a
  // run of TLB hits here (a dozen instructions an address), and a run of
  // misses in batchMisses, which has the whole walk inlined. The engine's
  // register allocator works per function: with the walk in the same loop,
  // the hit path spilled and reloaded its values on every address.
  const end = inPtr + ((n as usize) << 3);
  // The loop's invariants go through memory: V8 recomputes a pure value at
  // each use inside the loop (shifts by a variable need cl; the size decode
  // is five instructions), where a value loaded before the loop stays put.
  store<u32>(batchInvariants, 1 << (acc & 15));
  store<u32>(batchInvariants, PAGE - sizeOf(acc), 4);
  // A multiply, not a shift by a variable.
  store<u32>(batchInvariants, TLB_ENTRY << tlbWayShift, 8);
  const allowBit = load<u32>(batchInvariants);
  const lastOffset = load<u32>(batchInvariants, 4);
  const stride = load<u32>(batchInvariants, 8);
  const pcid = tlbPcid;
  const salt = slotSalt;
  const setMask = tlbSetMask;
  runFaults = 0;
  runMisses = 0;
  runEntries = 0;
  runPscHits = 0;
  runDone = 0;
  let p = inPtr;
  let q = outPtr;
  while (p < end) {
    const la = load<u64>(p);
    const e = tlb + (((((la >> PAGE_SHIFT) as u32) ^ salt) & setMask) * stride);
    const allowed = ((load<u16>(e, 20) as u32) & allowBit) != 0;
    const inPage = ((la as u32) & OFFSET_MASK) <= lastOffset;
    if (load<u64>(e) == ((la & PAGE_MASK) ^ pcid) && (allowed & inPage)) {
      store<u64>(q, load<u64>(e, 8) | (la & ~PAGE_MASK));
      // Two addresses per turn of the loop while both hit (half the loop's overhead).
      if (p + 8 < end) {
        const lb = load<u64>(p, 8);
        const f = tlb + (((((lb >> PAGE_SHIFT) as u32) ^ salt) & setMask) * stride);
        const allowedB = ((load<u16>(f, 20) as u32) & allowBit) != 0;
        const inPageB = ((lb as u32) & OFFSET_MASK) <= lastOffset;
        if (load<u64>(f) == ((lb & PAGE_MASK) ^ pcid) && (allowedB & inPageB)) {
          store<u64>(q, load<u64>(f, 8) | (lb & ~PAGE_MASK), 8);
          p += 16;
          q += 16;
          continue;
        }
      }
      p += 8;
      q += 8;
      continue;
    }
    const stop = batchMisses(p, q, end, acc);
    q += stop - p;
    p = stop;
  }
  countHits(n - runDone);
  countFastMisses(runMisses, runEntries, runPscHits);
  return runFaults;
}

/** translateBatch's loop invariants (see there). */
const batchInvariants: usize = ASC_FEATURE_THREADS ? perCpu(16, 8) : memory.data(16, 8);

/** The TLB set of each lane (u32), from laneSlots. */
const laneSet: usize = ASC_FEATURE_THREADS ? perCpu(LANES * 4, 4) : memory.data(LANES * 4, 4);

/**
 * How many of the (up to `n`) addresses at `p`, from the first, are plain
 * misses that missFastLanes may take together: in-page, canonical, their TLB
 * slots different (no fill may evict what a later address would find), none
 * holding a global entry or the same page (those go back to the hit loop or
 * to lookup()). Their set numbers go to laneSet.
 */
function laneSlots(p: usize, n: u32, lastOffset: u32, pcid: u64, salt: u32, setMask: u32, stride: u32): u32 {
  let seen: u64 = 0; // the sets taken, modulo 64: only a collision there needs the exact scan
  for (let i: u32 = 0; i < n; i++) {
    const la = load<u64>(p + ((i as usize) << 3));
    const set = (((la >> PAGE_SHIFT) as u32) ^ salt) & setMask;
    const e = tlb + set * stride;
    if (((la as u32) & OFFSET_MASK) > lastOffset || !isCanonical(la)) return i;
    if (load<u64>(e) == ((la & PAGE_MASK) ^ pcid) || (load<u8>(e, 23) & TLB_GLOBAL) != 0) return i;
    const bit: u64 = (1 as u64) << ((set & 63) as u64);
    if ((seen & bit) != 0) for (let j: u32 = 0; j < i; j++) if (load<u32>(laneSet + ((j as usize) << 2)) == set) return i;
    seen |= bit;
    store<u32>(laneSet + ((i as usize) << 2), set);
  }
  return n;
}

/** `k` misses finished together: each a walk that read one entry, from the PDE cache. */
@inline function countLanes(k: u32): void {
  runDone += k;
  runMisses += k;
  runEntries += k;
  runPscHits += k;
}

/** Lane i's TLB entry, from laneSlots. */
@inline function laneEntry(i: u32, stride: u32): usize {
  return tlb + load<u32>(laneSet + ((i as usize) << 2)) * stride;
}

/** Lane i's TLB fill from missFastLanes' results. */
@inline function laneFill(e: usize, la: u64, i: u32): void {
  tlbFillDirect(e, la, load<u64>(laneOut + ((i as usize) << 3)), LEVEL_PT, PAGE_SHIFT, load<u32>(laneOut + LANES * 8 + ((i as usize) << 2)), load<u8>(laneOut + LANES * 12 + (i as usize)) != 0);
}

/**
 * batchMisses' lanes (walk.ts missFastLanes, their PTE loads overlapped):
 * fills the TLB and the results of the leading addresses it finished;
 * returns how many (0: go one by one).
 */
function laneMisses(p: usize, q: usize, n: u32, acc: u32, lastOffset: u32, pcid: u64, salt: u32, setMask: u32, stride: u32): u32 {
  const m = laneSlots(p, n, lastOffset, pcid, salt, setMask, stride);
  if (m < 2) return 0;
  const k = missFastLanes(p, m, acc);
  countLanes(k);
  for (let i: u32 = 0; i < k; i++) {
    const la = load<u64>(p + ((i as usize) << 3));
    laneFill(laneEntry(i, stride), la, i);
    store<u64>(q + ((i as usize) << 3), load<u64>(laneOut + ((i as usize) << 3)) | (la & ~PAGE_MASK));
  }
  return k;
}

/** laneLoads' storage of each lane's frame (u32), 0 for a frame never written. */
const laneHost: usize = ASC_FEATURE_THREADS ? perCpu(LANES * 4, 4) : memory.data(LANES * 4, 4);

/**
 * loadMisses' lanes: as laneMisses, then the frames' storage looked up for
 * all of them, then their data loads, each step's loads back to back;
 * returns how many were finished.
 */
function laneLoads(p: usize, q: usize, n: u32, acc: u32, size: u32, pcid: u64): u32 {
  const stride: u32 = TLB_ENTRY << tlbWayShift;
  const m = laneSlots(p, n, PAGE - size, pcid, slotSalt, tlbSetMask, stride);
  if (m < 2) return 0;
  const k = missFastLanes(p, m, acc);
  if (k == 0) return 0;
  countLanes(k);
  // The storage of each frame (a frame never written has none and reads as zeros).
  for (let i: usize = 0; i < (k as usize); i++) store<u32>(laneHost + (i << 2), frameHost(load<u64>(laneOut + (i << 3)) >> PAGE_SHIFT) as u32);
  // The data, into the results.
  for (let i: usize = 0; i < (k as usize); i++) {
    const h = load<u32>(laneHost + (i << 2)) as usize;
    store<u64>(q + (i << 3), h == 0 ? 0 : readHost(h + ((load<u32>(p + (i << 3)) as usize) & OFFSET_MASK), size));
  }
  for (let i: u32 = 0; i < k; i++) {
    const e = laneEntry(i, stride);
    laneFill(e, load<u64>(p + ((i as usize) << 3)), i);
    const h = load<u32>(laneHost + ((i as usize) << 2));
    if (h != 0) store<u32>(e, h, 16);
  }
  return k;
}

/** What batchMisses counted, read by translateBatch at the end (runDone: addresses it translated). */
let runDone: u32 = 0;
let runFaults: u32 = 0;
let runMisses: u32 = 0;
let runEntries: u32 = 0;
let runPscHits: u32 = 0;

/**
 * The common miss (walk.ts missFast) of `la`, whose slot `e` holds another
 * page (the caller checked the tag: a rights miss is lookup()'s), for the
 * batch and range loops: not when that slot's entry is global (another
 * PCID's global entry may serve `la`) or `la` is not canonical; lookup()
 * decides those. Returns the entries missFast read, 0 for the general path.
 */
@inline function commonMiss(e: usize, la: u64, acc: u32): u32 {
  return (load<u8>(e, 23) & TLB_GLOBAL) == 0 && isCanonical(la) ? missFast(la, acc) : 0;
}

/**
 * translateBatch's misses: translates from `p` (whose address missed) on,
 * walking, until an address the TLB would serve or `end`; returns where it
 * stopped. Counts into the run counters above.
 */
export function batchMisses(p: usize, q: usize, end: usize, acc: u32): usize {
  const size = sizeOf(acc);
  // translateBatch stored them before its loop.
  const allowBit = load<u32>(batchInvariants);
  const lastOffset = load<u32>(batchInvariants, 4);
  const stride = load<u32>(batchInvariants, 8);
  const pcid = tlbPcid;
  const salt = slotSalt;
  const setMask = tlbSetMask;
  // Whether the common miss can be finished here at all: once per run, not per address.
  const fastOk = tlbWays == 1 && missFastApplies();
  const start = p;
  let faults: u32 = 0;
  let misses: u32 = 0;
  let entries: u32 = 0;
  let pscHits: u32 = 0;
  let done: u32 = 0;
  do {
    // Several misses at a time where they qualify (walk.ts missFastLanes): their PTE loads overlap.
    if (fastOk && p + 16 <= end && pdeHolds(load<u64>(p))) {
      const k = laneMisses(p, q, min<u32>(LANES, ((end - p) >> 3) as u32), acc, lastOffset, pcid, salt, setMask, stride);
      if (k != 0) {
        p += (k as usize) << 3;
        q += (k as usize) << 3;
        if (p >= end) break;
        continue;
      }
    }
    const la = load<u64>(p);
    const e = tlb + (((((la >> PAGE_SHIFT) as u32) ^ salt) & setMask) * stride);
    const inPage = ((la as u32) & OFFSET_MASK) <= lastOffset;
    const tagHit = load<u64>(e) == ((la & PAGE_MASK) ^ pcid);
    // The first address missed; a later one that hits goes back to the hit loop.
    if (p != start && inPage && tagHit && ((load<u16>(e, 20) as u32) & allowBit) != 0) break;
    const read = fastOk && inPage && !tagHit ? commonMiss(e, la, acc) : 0;
    if (read != 0) {
      misses++;
      entries += read;
      if (read == 1) pscHits++;
      tlbFillDirect(e, la, walkFastFrame, walkFastLevel, walkFastShift, walkFastAllow, walkFastGlobal);
      store<u64>(q, walkFastFrame | (la & ~PAGE_MASK));
    } else {
      const out = translateOneSlow(la, acc, size);
      if ((out >> BATCH_FAULT_BIT) != 0) faults++;
      store<u64>(q, out);
    }
    done++;
    p += 8;
    q += 8;
  } while (p < end);
  runDone += done;
  runFaults += faults;
  runMisses += misses;
  runEntries += entries;
  runPscHits += pscHits;
  return p;
}

function faultWord(second: bool): u64 {
  const status: u64 = load<u32>(mailbox, MB_STATUS);
  const code: u64 = load<u32>(mailbox, MB_ERROR_CODE);
  const npfHigh: u64 = status == STATUS_NPF ? ((load<u32>(mailbox, MB_EXITINFO1_HI) & 3) as u64) << 60 : 0;
  return ((1 as u64) << BATCH_FAULT_BIT) | (second ? (1 as u64) << BATCH_SECOND_PAGE_BIT : 0) | npfHigh | (status << 32) | code;
}

/**
 * translateBatch for a streaming scan: TLB entries that are there serve as
 * usual, but a miss walks (setting A and D as any walk does) without filling
 * the TLB, so a scan of many pages does not evict the working set.
 */
export function translateStream(inPtr: usize, outPtr: usize, n: u32, acc: u32): u32 {
  const size = sizeOf(acc);
  let faults: u32 = 0;
  const end = inPtr + ((n as usize) << 3);
  for (let p = inPtr, q = outPtr; p < end; p += 8, q += 8) {
    const la = load<u64>(p);
    let out = streamOne(la, acc);
    if ((out >> BATCH_FAULT_BIT) != 0) out = faultWord(false);
    else if (crossesPage(la, size) && (streamOne(nextPage(la), acc) >> BATCH_FAULT_BIT) != 0) out = faultWord(true);
    if ((out >> BATCH_FAULT_BIT) != 0) faults++;
    store<u64>(q, out);
  }
  return faults;
}

/** The physical address of `la` for `acc` from the TLB or a walk that fills nothing; bit BATCH_FAULT_BIT set on a fault (in the mailbox). */
function streamOne(la: u64, acc: u32): u64 {
  const e = tlbSlot(la);
  const t = hits(e, la, acc) ? e : tlbFind(la, acc);
  if (t != 0) {
    countHits(1);
    return load<u64>(t, 8) | (la & ~PAGE_MASK);
  }
  countMiss();
  let r = walkFast(la, acc);
  if (r != WALK_OK) r = walk(la, acc, true);
  if (r != WALK_OK) {
    if (r == WALK_PF) tlbFlushPage(la, -1, true);
    reportFault(r);
    return (1 as u64) << BATCH_FAULT_BIT;
  }
  return walkFrame | (la & ~PAGE_MASK);
}

function translateOneSlow(la: u64, acc: u32, size: u32): u64 {
  const e = lookup(la, acc);
  if (e == 0) return faultWord(false);
  const pa = load<u64>(e, 8) | (la & ~PAGE_MASK);
  if (crossesPage(la, size) && lookup(nextPage(la), acc) == 0) return faultWord(true);
  return pa;
}

// ---- Translate and load ----

function loadSlow(la: u64, acc: u32): f64 {
  const size = sizeOf(acc);
  const e1 = lookup(la, acc);
  if (e1 == 0) return -1;
  const off = (la as u32) & OFFSET_MASK;
  let value: u64;
  if (off + size <= PAGE) {
    const host = entryReadHost(e1);
    if (host == SPECIAL_HOST) return -(reportSpecial(e1, la) as f64);
    value = host == 0 ? 0 : readHost(host + off, size);
  } else {
    const e2 = lookup(nextPage(la), acc);
    if (e2 == 0) return -1;
    const host1 = entryReadHost(e1);
    const host2 = entryReadHost(e2);
    if (host1 == SPECIAL_HOST || host2 == SPECIAL_HOST) return -(reportSpecial(e1, la) as f64);
    const first: u32 = PAGE - off;
    value = 0;
    for (let i: u32 = 0; i < size; i++) {
      const b: u64 = i < first
        ? (host1 == 0 ? 0 : load<u8>(host1 + off + i))
        : (host2 == 0 ? 0 : load<u8>(host2 + i - first));
      value |= b << ((i as u64) << 3);
    }
  }
  store<u32>(mailbox, (value >> 32) as u32, MB_VALUE_HI);
  return <f64>(value as u32);
}

/**
 * Translates hi:lo for a read or fetch of `size` bytes (in `acc`) and returns
 * the value's low 32 bits (its high 32 bits are in the mailbox), or -1 on a
 * fault (reported in the mailbox).
 */
export function loadLinear(lo: u32, hi: u32, acc: u32): f64 {
  const la = ((hi as u64) << 32) | (lo as u64);
  const e = tlbSlot(la);
  const size = sizeOf(acc);
  if (hits(e, la, acc) && (lo & OFFSET_MASK) + size <= PAGE) {
    const host = load<u32>(e, 16) as usize;
    if (host != 0) {
      countHits(1);
      const p = host + (lo & OFFSET_MASK);
      if (size == 8) {
        store<u32>(mailbox, load<u32>(p, 4), MB_VALUE_HI);
        return <f64>load<u32>(p);
      }
      return <f64>(readHost(p, size) as u32);
    }
  }
  return loadSlow(la, acc);
}

/**
 * Loads `n` values of `size` bytes (in `acc`) from the linear addresses at
 * `inPtr`, writing u64 values at `outPtr`. Stops at the first fault (reported
 * in the mailbox) and returns how many loads completed.
 */
export function loadBatch(inPtr: usize, outPtr: usize, n: u32, acc: u32): u32 {
  // One loop per size, so each reads with a single load instruction.
  const size = sizeOf(acc);
  if (size == 8) return loadLoop(inPtr, outPtr, n, acc, 8);
  if (size == 4) return loadLoop(inPtr, outPtr, n, acc, 4);
  if (size == 2) return loadLoop(inPtr, outPtr, n, acc, 2);
  return loadLoop(inPtr, outPtr, n, acc, 1);
}

@inline function loadLoop(inPtr: usize, outPtr: usize, n: u32, acc: u32, size: u32): u32 {
  // As translateBatch: hits in this loop (invariants pinned through memory,
  // no call in the hit path), a run of misses in loadMisses.
  store<u32>(batchInvariants, 1 << (acc & 15));
  store<u32>(batchInvariants, TLB_ENTRY << tlbWayShift, 8);
  const allowBit = load<u32>(batchInvariants);
  const stride = load<u32>(batchInvariants, 8);
  const lastOffset: u32 = PAGE - size;
  const pcid = tlbPcid;
  const salt = slotSalt;
  const setMask = tlbSetMask;
  runMisses = 0;
  runEntries = 0;
  runPscHits = 0;
  runDone = 0;
  runStopped = false;
  const end = inPtr + ((n as usize) << 3);
  let p = inPtr;
  let q = outPtr;
  while (p < end) {
    const la = load<u64>(p);
    const e = tlb + (((((la >> PAGE_SHIFT) as u32) ^ salt) & setMask) * stride);
    const host = load<u32>(e, 16) as usize;
    const off = (la as u32) & OFFSET_MASK;
    const allowed = ((load<u16>(e, 20) as u32) & allowBit) != 0;
    if (host != 0 && load<u64>(e) == ((la & PAGE_MASK) ^ pcid) && (allowed & (off <= lastOffset))) {
      store<u64>(q, readHost(host + off, size));
      p += 8;
      q += 8;
      continue;
    }
    const stop = loadMisses(p, q, end, acc);
    q += stop - p;
    p = stop;
    if (runStopped) break;
  }
  const done = ((p - inPtr) >> 3) as u32;
  countHits(done - runDone);
  countFastMisses(runMisses, runEntries, runPscHits);
  return done;
}

/** Set by loadMisses: an access faulted (or needs the host); the batch stops there. */
let runStopped: bool = false;

/**
 * loadLoop's misses: loads from `p` (whose address missed) on until an
 * address the TLB would serve, `end`, or an access that faults or needs the
 * host (a device or hooked page: runStopped, and `p` is that access).
 */
export function loadMisses(p: usize, q: usize, end: usize, acc: u32): usize {
  const size = sizeOf(acc);
  const allowBit = load<u32>(batchInvariants);
  const lastOffset: u32 = PAGE - size;
  const pcid = tlbPcid;
  // With no device or hook anywhere, a miss of the common kind is finished here too (as in batchMisses).
  const fastOk = !anySpecial() && tlbWays == 1 && missFastApplies();
  const start = p;
  let misses: u32 = 0;
  let entries: u32 = 0;
  let pscHits: u32 = 0;
  let done: u32 = 0;
  do {
    // Several misses at a time where they qualify: their PTE, storage and data loads overlap.
    if (fastOk && p + 16 <= end && pdeHolds(load<u64>(p))) {
      const k = laneLoads(p, q, min<u32>(LANES, ((end - p) >> 3) as u32), acc, size, pcid);
      if (k != 0) {
        p += (k as usize) << 3;
        q += (k as usize) << 3;
        if (p >= end) break;
        continue;
      }
    }
    const la = load<u64>(p);
    const e = tlbSlot(la);
    const off = (la as u32) & OFFSET_MASK;
    const tagHit = load<u64>(e) == ((la & PAGE_MASK) ^ pcid);
    if (p != start && off <= lastOffset && tagHit && load<u32>(e, 16) != 0 && ((load<u16>(e, 20) as u32) & allowBit) != 0) break;
    let v: u64;
    const read = fastOk && off <= lastOffset && !tagHit ? commonMiss(e, la, acc) : 0;
    if (read != 0) {
      misses++;
      entries += read;
      if (read == 1) pscHits++;
      tlbFillDirect(e, la, walkFastFrame, walkFastLevel, walkFastShift, walkFastAllow, walkFastGlobal);
      // A frame never written reads as zeros (entryReadHost remembers storage only once it exists).
      const h = frameHost(walkFastFrame >> PAGE_SHIFT);
      if (h != 0) store<u32>(e, h as u32, 16);
      v = h == 0 ? 0 : readHost(h + off, size);
    } else {
      const lo = loadSlow(la, acc);
      if (lo < 0) {
        runStopped = true;
        break;
      }
      v = ((load<u32>(mailbox, MB_VALUE_HI) as u64) << 32) | (lo as u64);
    }
    store<u64>(q, v);
    done++;
    p += 8;
    q += 8;
  } while (p < end);
  runDone += done;
  runMisses += misses;
  runEntries += entries;
  runPscHits += pscHits;
  return p;
}

// ---- Translate and store ----

function storeSlow(la: u64, acc: u32, value: u64): i32 {
  const size = sizeOf(acc);
  const e1 = lookup(la, acc);
  if (e1 == 0) return load<u32>(mailbox, MB_STATUS);
  const off = (la as u32) & OFFSET_MASK;
  if (off + size <= PAGE) {
    const host = entryWriteHost(e1);
    if (host == SPECIAL_HOST) return reportSpecial(e1, la);
    if (host == 0) return reportNoMemory();
    writeHost(host + off, size, value);
    return STATUS_OK;
  }
  // Both pages must allow the write before a byte is stored (consecutive
  // pages use different TLB slots, so e1 stays valid).
  const e2 = lookup(nextPage(la), acc);
  if (e2 == 0) return load<u32>(mailbox, MB_STATUS);
  if (((load<u8>(e1, 23) | load<u8>(e2, 23)) & TLB_SPECIAL) != 0) return reportSpecial(e1, la);
  const host1 = entryWriteHost(e1);
  if (host1 == 0) return reportNoMemory();
  const host2 = entryWriteHost(e2);
  if (host2 == 0) return reportNoMemory();
  const first: u32 = PAGE - off;
  for (let i: u32 = 0; i < size; i++) {
    const b = (value >> ((i as u64) << 3)) as u8;
    if (i < first) store<u8>(host1 + off + i, b);
    else store<u8>(host2 + i - first, b);
  }
  return STATUS_OK;
}

function reportNoMemory(): i32 {
  reportStatus(STATUS_NO_MEMORY);
  return STATUS_NO_MEMORY;
}

/**
 * Translates hi:lo for a write of `size` bytes (in `acc`) and stores the low
 * `size` bytes of vhi:vlo little-endian. Returns a STATUS_* code (faults in
 * the mailbox); on any failure no byte is written.
 */
export function storeLinear(lo: u32, hi: u32, acc: u32, vlo: u32, vhi: u32): i32 {
  const la = ((hi as u64) << 32) | (lo as u64);
  const e = tlbSlot(la);
  const size = sizeOf(acc);
  if (hits(e, la, acc) && (lo & OFFSET_MASK) + size <= PAGE) {
    const host = load<u32>(e, 24) as usize;
    if (host != 0) {
      countHits(1);
      const p = host + (lo & OFFSET_MASK);
      if (size == 8) {
        store<u32>(p, vlo);
        store<u32>(p, vhi, 4);
      } else writeHost(p, size, vlo as u64);
      return STATUS_OK;
    }
  }
  return storeSlow(la, acc, ((vhi as u64) << 32) | (vlo as u64));
}

/**
 * Stores `n` values (u64 words at `valPtr`, low `size` bytes each) at the
 * linear addresses at `addrPtr`. Stops at the first failure (reported in the
 * mailbox) and returns how many stores completed.
 */
export function storeBatch(addrPtr: usize, valPtr: usize, n: u32, acc: u32): u32 {
  const size = sizeOf(acc);
  if (size == 8) return storeLoop(addrPtr, valPtr, n, acc, 8);
  if (size == 4) return storeLoop(addrPtr, valPtr, n, acc, 4);
  if (size == 2) return storeLoop(addrPtr, valPtr, n, acc, 2);
  return storeLoop(addrPtr, valPtr, n, acc, 1);
}

@inline function storeLoop(addrPtr: usize, valPtr: usize, n: u32, acc: u32, size: u32): u32 {
  const allowBit: u32 = 1 << (acc & 15);
  const lastOffset: u32 = PAGE - size;
  const pcid = tlbPcid;
  let fast: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const la = load<u64>(addrPtr + ((i as usize) << 3));
    const v = load<u64>(valPtr + ((i as usize) << 3));
    const e = tlbSlot(la);
    const off = (la as u32) & OFFSET_MASK;
    const host = load<u32>(e, 24) as usize;
    if (host != 0 && load<u64>(e) == ((la & PAGE_MASK) ^ pcid) && (load<u16>(e, 20) & allowBit) != 0 && off <= lastOffset) {
      writeHost(host + off, size, v);
      fast++;
    } else if (storeSlow(la, acc, v) != STATUS_OK) {
      countHits(fast);
      return i;
    }
  }
  countHits(fast);
  return n;
}

// ---- Ranges, for bulk copies ----

/** Special segments (device or hooked pages) the last translateRange wrote: none means the host's copy needs no bus and runs no callback. */
let rangeSpecials: u32 = 0;

export function rangeSpecialCount(): u32 {
  return rangeSpecials;
}

/**
 * Translates every page of the linear range [la, la + len) for `acc` and
 * writes one segment per page at `segPtr` (abi.ts: pa, host, length). For a
 * write, every page is translated (and allowed) before any frame gets
 * storage, so a fault or exhausted memory leaves the data untouched. Returns
 * the number of segments, or -(STATUS_*) on failure (details in the mailbox).
 *
 * Per page, as the batch loops do (issue 12): a TLB hit takes the storage the
 * entry remembers (+16 for reading, +24 for writing, noted for the journal
 * already); the common miss is finished here (walk.ts missFast, the PDE
 * cache's one entry read) and fills the entry if its slot is free, evicting
 * nothing (which entries a TLB keeps is the processor's choice, SDM 4.10.2:
 * a bulk copy keeping the working set is the better one, and a copy whose
 * source and destination share TLB sets does not miss on both sides every
 * time); anything else goes through lookup(), which decides it by the full
 * rules. Only pages whose storage is not known yet go to the second pass.
 */
export function translateRange(lo: u32, hi: u32, len: u32, acc: u32, segPtr: usize): i32 {
  const first = ((hi as u64) << 32) | (lo as u64);
  const write = (acc & ACCESS_OP_MASK) == ACCESS_WRITE;
  const hostAt: usize = write ? 24 : 16; // the storage an entry remembers: +16 for reading, +24 for writing (noted)
  const fastOk = tlbWays == 1 && missFastApplies();
  let la = first;
  let remaining = len;
  let n: i32 = 0;
  let hitCount: u32 = 0;
  let misses: u32 = 0;
  let entries: u32 = 0;
  let pscHits: u32 = 0;
  let unknown: u32 = 0; // segments left for pass 2
  rangeSpecials = 0;
  // Pass 1: translate (sets A and D as each page is reached, like the processor).
  while (remaining > 0) {
    let e = tlbSlot(la);
    let frame: u64;
    let special: bool;
    let host: u32; // 0: not known yet
    if (hits(e, la, acc)) {
      hitCount++;
      frame = load<u64>(e, 8);
      special = (load<u8>(e, 23) & TLB_SPECIAL) != 0;
      host = load<u32>(e + hostAt);
    } else {
      const tagHit = load<u64>(e) == ((la & PAGE_MASK) ^ tlbPcid);
      const read = fastOk && !tagHit ? commonMiss(e, la, acc) : 0;
      if (read != 0) {
        misses++;
        entries += read;
        if (read == 1) pscHits++;
        frame = walkFastFrame;
        host = 0;
        // A bulk range fills free slots only: it does not evict what the TLB holds (two ranges whose pages
        // share sets, as a copy's source and destination often do, would evict each other on every copy).
        if (load<u16>(e, 20) == 0) {
          tlbFillDirect(e, la, walkFastFrame, walkFastLevel, walkFastShift, walkFastAllow, walkFastGlobal);
          special = (load<u8>(e, 23) & TLB_SPECIAL) != 0;
        } else {
          special = pageSpecial(frame, la);
        }
      } else {
        e = lookup(la, acc);
        if (e == 0) {
          countHits(hitCount);
          countFastMisses(misses, entries, pscHits);
          return -(load<u32>(mailbox, MB_STATUS) as i32);
        }
        frame = load<u64>(e, 8);
        special = (load<u8>(e, 23) & TLB_SPECIAL) != 0;
        host = load<u32>(e + hostAt);
      }
    }
    const off = (la as u32) & OFFSET_MASK;
    const chunk = min(PAGE_SIZE - off, remaining);
    const s = segPtr + (n as usize) * SEGMENT_BYTES;
    store<u64>(s, frame | (off as u64));
    if (special) {
      // A device or hooked page (special.ts; registering one flushes the TLB): the host performs it.
      store<u32>(s, 0, 8);
      store<u32>(s, chunk | SEGMENT_SPECIAL, 12);
      rangeSpecials++;
    } else {
      store<u32>(s, host == 0 ? 0 : host + off, 8);
      store<u32>(s, chunk, 12);
      if (host == 0) unknown++;
    }
    n++;
    remaining -= chunk;
    la += chunk;
  }
  countHits(hitCount);
  countFastMisses(misses, entries, pscHits);
  // Pass 2: find (or, for a write, give and note) the storage of the frames pass 1 did not know,
  // and remember it in the page's TLB entry when that entry is still there.
  if (unknown != 0) {
    let page = first & PAGE_MASK;
    for (let i = 0; i < n; i++, page += PAGE_SIZE) {
      const s = segPtr + (i as usize) * SEGMENT_BYTES;
      if (load<u32>(s, 8) != 0 || (load<u32>(s, 12) & SEGMENT_SPECIAL) != 0) continue;
      const pa = load<u64>(s);
      const base = write ? frameHostOrAlloc(pa >> PAGE_SHIFT) : frameHost(pa >> PAGE_SHIFT);
      if (write && (base == 0 || !noteWrite(base))) return -(reportNoMemory());
      if (base == 0) continue;
      store<u32>(s, (base + ((pa as u32) & OFFSET_MASK)) as u32, 8);
      const e = tlbSlot(page);
      if (load<u64>(e) == ((page & PAGE_MASK) ^ tlbPcid) && (load<u64>(e, 8) & PAGE_MASK) == (pa & PAGE_MASK)) {
        store<u32>(e, base as u32, 16);
        if (write) store<u32>(e, base as u32, 24);
      }
    }
  }
  reportStatus(STATUS_OK);
  return n;
}

/**
 * Segments of the physical range [pa, pa + len), like translateRange: one per
 * frame, with storage given to each for a write. Returns the number of
 * segments or -(STATUS_PHYS_RANGE / STATUS_NO_MEMORY).
 */
export function physRange(lo: u32, hi: u32, len: u32, write: bool, segPtr: usize): i32 {
  let pa = ((hi as u64) << 32) | (lo as u64);
  const limit: u64 = (1 as u64) << maxPhyAddr;
  if (pa >= limit || (len as u64) > limit - pa) {
    reportStatus(STATUS_PHYS_RANGE);
    return -STATUS_PHYS_RANGE;
  }
  let remaining = len;
  let n: i32 = 0;
  while (remaining > 0) {
    const off = (pa as u32) & OFFSET_MASK;
    const chunk = min(PAGE_SIZE - off, remaining);
    const s = segPtr + (n as usize) * SEGMENT_BYTES;
    store<u64>(s, pa);
    if (physSpecial(pa >> PAGE_SHIFT)) {
      store<u32>(s, 0, 8);
      store<u32>(s, chunk | SEGMENT_SPECIAL, 12);
    } else {
      const base = write ? frameHostOrAlloc(pa >> PAGE_SHIFT) : frameHost(pa >> PAGE_SHIFT);
      if (write && (base == 0 || !noteWrite(base))) return -(reportNoMemory());
      store<u32>(s, base == 0 ? 0 : (base + off) as u32, 8);
      store<u32>(s, chunk, 12);
    }
    n++;
    remaining -= chunk;
    pa += chunk;
  }
  reportStatus(STATUS_OK);
  return n;
}

/** Leaf level (1, 2, 3) of the TLB entry that translates hi:lo, 0 if none does. */
export function tlbLevel(lo: u32, hi: u32): u32 {
  const la = ((hi as u64) << 32) | (lo as u64);
  const e = tlbSlot(la);
  return load<u64>(e) == ((la & PAGE_MASK) ^ tlbPcid) && load<u16>(e, 20) != 0 ? load<u8>(e, 22) : 0;
}
