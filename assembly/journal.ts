/**
 * Write interception: the dirty log and snapshots.
 *
 * Both need to see the first write to a frame after some moment: the dirty
 * log to list the frame, a snapshot to save the frame's old contents before
 * they change (copy-on-write), so that restoring costs time in proportion to
 * the frames written since, not to memory size.
 *
 * "First write since" is a generation number per 4 KiB unit of storage: a
 * unit is noted when its mark equals the current generation, and starting a
 * new generation (clearing the dirty log, taking or restoring a snapshot) is
 * one increment. Every path that writes a frame calls noteWrite() first; the
 * TLB keeps a write pointer (`whost`) only for frames already noted, so the
 * fast store path needs no check, and a new generation clears those pointers.
 *
 * Snapshots form a stack of epochs. Epoch k's journal holds, for each frame
 * first written during epoch k, its contents at the start of the epoch (or 0
 * when the frame had no storage then). Restoring snapshot k applies the
 * journals of epochs top..k, newest record first.
 *
 *     journal chunk (a 4 KiB unit): +0 u32 next (older) chunk, +4 u32 count, +8 records
 *     dirty record:    u64 PFN                                  (511 per chunk)
 *     snapshot record: u64 PFN, u32 copy (0 = no storage), u32 -  (255 per chunk)
 */

import { PAGE_SHIFT, PAGE_SIZE } from "../src/arch/bits";
import { hostAlloc, hostRelease, unitPfnOf, frameAlloc, frameFresh, frameRelease, frameHost, bumpStorageEpoch } from "./frames";
import { tlbForgetWriteHosts } from "./tlb";
import { lockTake, lockGive, lockEpoch } from "./lock";

const MAX_UNITS: u32 = 1 << 20;
const dirtyMark: usize = memory.data(MAX_UNITS * 4, 16);
const savedMark: usize = memory.data(MAX_UNITS * 4, 16);

/** Some consumer needs to see writes: callers must call noteWrite before writing a frame. */
export let intercepting: bool = false;
/** A write could not be recorded (memory ran out): snapshots can no longer be restored exactly. */
export let snapshotsBroken: bool = false;

let generation: u32 = 1;
let dirtyOn: bool = false;
let dirtyGen: u32 = 0;
let dirtyHead: usize = 0;
let dirtyRecords: u32 = 0;

export const MAX_SNAPSHOTS: u32 = 4096;
/** Epoch stack: +0 u32 newest chunk, +4 u32 records, +8 u32 frames copied. */
const epochs: usize = memory.data(MAX_SNAPSHOTS * 16, 16);
let epochCount: u32 = 0;
let epochGen: u32 = 0;

// ---- Sharing (threads build, lock.ts) ----
//
// With several CPUs the journal is the machine's: its globals are loaded
// from `home` under the lock and stored back before it is given up, and
// every CPU's writes are noted. A CPU that has not taken the lock since
// another changed the journal (its `intercepting` and its TLB's write
// pointers may be stale) is told to call journalSync() (the host posts it
// with the other CPUs paused, see src/machine/shared-machine.ts).
//
//   home: +0 intercepting  +4 snapshotsBroken  +8 generation  +12 dirtyOn  +16 dirtyGen
//         +20 dirtyRecords  +24 epochCount  +28 epochGen  +32 markDirty  +36 markEpochs
//         +40 markRecords  +44 saved once

const home: usize = memory.data(48, 8);
let homeEpoch: u32 = 0;

function enter(): void {
  lockTake();
  if (homeEpoch == lockEpoch()) return;
  homeEpoch = lockEpoch();
  if (load<u32>(home, 44) == 0) return;
  intercepting = load<u32>(home) != 0;
  snapshotsBroken = load<u32>(home, 4) != 0;
  generation = load<u32>(home, 8);
  dirtyOn = load<u32>(home, 12) != 0;
  dirtyGen = load<u32>(home, 16);
  dirtyRecords = load<u32>(home, 20);
  epochCount = load<u32>(home, 24);
  epochGen = load<u32>(home, 28);
  markDirty = load<u32>(home, 32);
  markEpochs = load<u32>(home, 36);
  markRecords = load<u32>(home, 40);
}

function leave(): void {
  store<u32>(home, intercepting ? 1 : 0);
  store<u32>(home, snapshotsBroken ? 1 : 0, 4);
  store<u32>(home, generation, 8);
  store<u32>(home, dirtyOn ? 1 : 0, 12);
  store<u32>(home, dirtyGen, 16);
  store<u32>(home, dirtyRecords, 20);
  store<u32>(home, epochCount, 24);
  store<u32>(home, epochGen, 28);
  store<u32>(home, markDirty, 32);
  store<u32>(home, markEpochs, 36);
  store<u32>(home, markRecords, 40);
  store<u32>(home, 1, 44);
  lockGive();
}

/**
 * Threads build: takes the journal's state as the machine has it and forgets
 * this CPU's TLB write pointers, so this CPU notes its writes from now on
 * as the journal now asks (after another CPU started, stopped or cleared
 * the dirty log). A no-op with one CPU.
 */
export function journalSync(): void {
  if (!ASC_FEATURE_THREADS) return;
  enter();
  tlbForgetWriteHosts();
  leave();
}

const DIRTY_PER_CHUNK: u32 = (PAGE_SIZE - 8) / 8;
const SAVED_PER_CHUNK: u32 = (PAGE_SIZE - 8) / 16;

function sync(): void {
  intercepting = dirtyOn || epochCount > 0;
}

@inline function markOf(base: usize, host: usize): usize {
  return base + ((host >> PAGE_SHIFT) << 2);
}

/** Appends to a chunk list whose newest chunk is at `*headSlot`; false when memory is exhausted. */
function append(headSlot: usize, perChunk: u32, recordBytes: u32, a: u64, b: u32): bool {
  let head = load<u32>(headSlot) as usize;
  if (head == 0 || load<u32>(head, 4) == perChunk) {
    const c = hostAlloc(PAGE_SIZE);
    if (c == 0) return false;
    store<u32>(c, head as u32);
    store<u32>(headSlot, c as u32);
    head = c;
  }
  const n = load<u32>(head, 4);
  const r = head + 8 + n * recordBytes;
  store<u64>(r, a);
  if (recordBytes == 16) store<u32>(r, b, 8);
  store<u32>(head, n + 1, 4);
  return true;
}

function freeChunks(head: usize, releaseCopies: bool): void {
  while (head != 0) {
    const next = load<u32>(head) as usize;
    if (releaseCopies) {
      const n = load<u32>(head, 4);
      for (let i: u32 = 0; i < n; i++) {
        const copy = load<u32>(head + 8 + i * 16, 8) as usize;
        if (copy != 0) hostRelease(copy);
      }
    }
    hostRelease(head);
    head = next;
  }
}

const dirtyHeadSlot: usize = memory.data(8, 8);

// ---- Noting writes ----

/**
 * Call before writing to the frame stored at `host`. Returns false when the
 * write cannot be recorded (memory exhausted); the caller then fails the write.
 */
@inline export function noteWrite(host: usize): bool {
  return !intercepting || noteSlow(host);
}

function noteSlow(host: usize): bool {
  if (!ASC_FEATURE_THREADS) return noteSlow_(host);
  enter();
  const r = noteSlow_(host);
  leave();
  return r;
}

@inline function noteSlow_(host: usize): bool {
  const pfn = unitPfnOf(host);
  if (dirtyOn && load<u32>(markOf(dirtyMark, host)) != dirtyGen) {
    if (!append(dirtyHeadSlot, DIRTY_PER_CHUNK, 8, pfn, 0)) return false;
    dirtyRecords++;
    store<u32>(markOf(dirtyMark, host), dirtyGen);
  }
  if (epochCount > 0 && load<u32>(markOf(savedMark, host)) != epochGen) {
    const copy = hostAlloc(PAGE_SIZE);
    if (copy == 0) return false;
    memory.copy(copy, host, PAGE_SIZE);
    const ep = epochs + ((epochCount - 1) << 4);
    if (!append(ep, SAVED_PER_CHUNK, 16, pfn, copy as u32)) {
      hostRelease(copy);
      return false;
    }
    store<u32>(ep, load<u32>(ep, 4) + 1, 4);
    store<u32>(ep, load<u32>(ep, 8) + 1, 8);
    store<u32>(markOf(savedMark, host), epochGen);
  }
  return true;
}

/** The unit at `host` holds a frame new to it: no write to it is noted yet. */
function clearMarks(host: usize): void {
  store<u32>(markOf(dirtyMark, host), 0);
  store<u32>(markOf(savedMark, host), 0);
}

/** Frame `pfn` just got (zeroed) storage at `host`: it counts as written, and had no storage before. */
export function noteBacked(host: usize, pfn: u64): bool {
  if (!ASC_FEATURE_THREADS) return noteBacked_(host, pfn);
  enter();
  const r = noteBacked_(host, pfn);
  leave();
  return r;
}

@inline function noteBacked_(host: usize, pfn: u64): bool {
  clearMarks(host);
  if (!intercepting) return true;
  if (dirtyOn) {
    if (!append(dirtyHeadSlot, DIRTY_PER_CHUNK, 8, pfn, 0)) return false;
    dirtyRecords++;
    store<u32>(markOf(dirtyMark, host), dirtyGen);
  }
  if (epochCount > 0) {
    const ep = epochs + ((epochCount - 1) << 4);
    if (!append(ep, SAVED_PER_CHUNK, 16, pfn, 0)) return false;
    store<u32>(ep, load<u32>(ep, 4) + 1, 4);
    store<u32>(markOf(savedMark, host), epochGen);
  }
  return true;
}

/**
 * Notes a write that happens whatever the outcome: a frame's storage being
 * released (its contents become zero), or the walk setting A/D (the processor
 * would). If memory runs out for the note, snapshots are marked broken.
 */
@inline export function noteForced(host: usize): void {
  if (intercepting && !noteSlow(host)) snapshotsBroken = true;
}

function newGeneration(): u32 {
  generation++;
  bumpStorageEpoch(); // writes noted before must be noted again
  tlbForgetWriteHosts();
  return generation;
}

// ---- Taking back what a refused operation noted ----
//
// An operation that takes frames and then finds it cannot finish (the page
// builder running out of memory part-way through its reservation) gives them
// back and must leave no trace: journalMark() before, journalRollback() after
// the frames' storage was released drops the records noted since.

let markDirty: u32 = 0;
let markEpochs: u32 = 0;
let markRecords: u32 = 0;

export function journalMark(): void {
  if (!ASC_FEATURE_THREADS) {
    journalMark_();
    return;
  }
  enter();
  journalMark_();
  leave();
}

@inline function journalMark_(): void {
  markDirty = dirtyRecords;
  markEpochs = epochCount;
  markRecords = epochCount > 0 ? load<u32>(epochs + ((epochCount - 1) << 4), 4) : 0;
}

/** Pops the newest record of the chunk list at `headSlot`; returns its address (valid until the next hostAlloc). */
function popRecord(headSlot: usize, recordBytes: u32): usize {
  const head = load<u32>(headSlot) as usize;
  const n = load<u32>(head, 4) - 1;
  store<u32>(head, n, 4);
  const r = head + 8 + n * recordBytes;
  if (n == 0) {
    store<u32>(headSlot, load<u32>(head));
    // The chunk goes back after the caller read the record: copy it out first.
    memory.copy(popped, r, recordBytes);
    hostRelease(head);
    return popped;
  }
  return r;
}
const popped: usize = memory.data(16, 8);

/** Drops the dirty-log and snapshot records noted since journalMark() (the operation changed nothing after all). */
export function journalRollback(): void {
  if (!ASC_FEATURE_THREADS) {
    journalRollback_();
    return;
  }
  enter();
  journalRollback_();
  leave();
}

@inline function journalRollback_(): void {
  while (dirtyRecords > markDirty) {
    const r = popRecord(dirtyHeadSlot, 8);
    const host = frameHost(load<u64>(r));
    if (host != 0) store<u32>(markOf(dirtyMark, host), 0);
    dirtyRecords--;
  }
  if (epochCount == 0 || epochCount != markEpochs) return;
  const ep = epochs + ((epochCount - 1) << 4);
  while (load<u32>(ep, 4) > markRecords) {
    const r = popRecord(ep, 16);
    const pfn = load<u64>(r);
    const copy = load<u32>(r, 8) as usize;
    const host = frameHost(pfn);
    if (copy != 0) {
      // The frame had contents when the operation began: put them back.
      if (host != 0) memory.copy(host, copy, PAGE_SIZE);
      hostRelease(copy);
      store<u32>(ep, load<u32>(ep, 8) - 1, 8);
    }
    if (host != 0) store<u32>(markOf(savedMark, host), 0);
    store<u32>(ep, load<u32>(ep, 4) - 1, 4);
  }
}

// ---- The dirty log ----

export function dirtyStart(): void {
  if (!ASC_FEATURE_THREADS) {
    dirtyStart_();
    return;
  }
  enter();
  dirtyStart_();
  leave();
}

@inline function dirtyStart_(): void {
  if (dirtyOn) return;
  dirtyOn = true;
  dirtyGen = newGeneration();
  sync();
}

export function dirtyStop(): void {
  if (!ASC_FEATURE_THREADS) {
    dirtyStop_();
    return;
  }
  enter();
  dirtyStop_();
  leave();
}

@inline function dirtyStop_(): void {
  dirtyClear();
  dirtyOn = false;
  sync();
}

/** Forgets the frames logged so far; the next write to each frame is logged again. */
export function dirtyClear(): void {
  if (!ASC_FEATURE_THREADS) {
    dirtyClear_();
    return;
  }
  enter();
  dirtyClear_();
  leave();
}

@inline function dirtyClear_(): void {
  freeChunks(load<u32>(dirtyHeadSlot) as usize, false);
  store<u32>(dirtyHeadSlot, 0);
  dirtyRecords = 0;
  if (dirtyOn) dirtyGen = newGeneration();
}

/** Whether the dirty log is on (with several CPUs: as the machine has it). */
export function dirtyRunning(): bool {
  if (!ASC_FEATURE_THREADS) return dirtyOn;
  enter();
  const on = dirtyOn;
  leave();
  return on;
}

/** Records in the dirty log (a frame may appear more than once if it was freed and written again). */
export function dirtyCount(): u32 {
  if (!ASC_FEATURE_THREADS) return dirtyCount_();
  enter();
  const r = dirtyCount_();
  leave();
  return r;
}

@inline function dirtyCount_(): u32 {
  return dirtyRecords;
}

/** Writes the logged PFNs (newest first, at most `max`) as u64 at `out`; returns how many. */
export function dirtyList(out: usize, max: u32): u32 {
  if (!ASC_FEATURE_THREADS) return dirtyList_(out, max);
  enter();
  const r = dirtyList_(out, max);
  leave();
  return r;
}

@inline function dirtyList_(out: usize, max: u32): u32 {
  let n: u32 = 0;
  for (let c = load<u32>(dirtyHeadSlot) as usize; c != 0 && n < max; c = load<u32>(c) as usize) {
    const count = load<u32>(c, 4);
    for (let i: u32 = 0; i < count && n < max; i++) {
      store<u64>(out + ((n as usize) << 3), load<u64>(c + 8 + (i << 3)));
      n++;
    }
  }
  return n;
}

// ---- Snapshots ----

/** Starts a new epoch; returns its index, or -1 when MAX_SNAPSHOTS are kept already. */
export function snapshotTake(): i32 {
  if (!ASC_FEATURE_THREADS) return snapshotTake_();
  enter();
  const r = snapshotTake_();
  leave();
  return r;
}

@inline function snapshotTake_(): i32 {
  if (epochCount == MAX_SNAPSHOTS) return -1;
  const ep = epochs + (epochCount << 4);
  store<u64>(ep, 0);
  store<u64>(ep, 0, 8);
  epochCount++;
  epochGen = newGeneration();
  sync();
  return (epochCount - 1) as i32;
}

export function snapshotCount(): u32 {
  if (!ASC_FEATURE_THREADS) return snapshotCount_();
  enter();
  const r = snapshotCount_();
  leave();
  return r;
}

@inline function snapshotCount_(): u32 {
  return epochCount;
}

/** Frames copied in epoch `k` (its memory cost is that many 4 KiB units, plus its journal). */
export function snapshotFrames(k: u32): u32 {
  if (!ASC_FEATURE_THREADS) return snapshotFrames_(k);
  enter();
  const r = snapshotFrames_(k);
  leave();
  return r;
}

@inline function snapshotFrames_(k: u32): u32 {
  return k < epochCount ? load<u32>(epochs + (k << 4), 8) : 0;
}

function applyEpoch(k: u32): void {
  const ep = epochs + (k << 4);
  for (let c = load<u32>(ep) as usize; c != 0; ) {
    const next = load<u32>(c) as usize;
    for (let i = load<u32>(c, 4); i > 0; i--) {
      const r = c + 8 + (i - 1) * 16;
      const pfn = load<u64>(r);
      const copy = load<u32>(r, 8) as usize;
      // The frame changes back: a running dirty log lists it.
      if (dirtyOn && append(dirtyHeadSlot, DIRTY_PER_CHUNK, 8, pfn, 0)) dirtyRecords++;
      if (copy == 0) {
        frameRelease(pfn);
      } else {
        const host = frameAlloc(pfn);
        if (host != 0 && frameFresh) clearMarks(host);
        if (host == 0) snapshotsBroken = true;
        else memory.copy(host, copy, PAGE_SIZE);
        hostRelease(copy);
      }
    }
    hostRelease(c);
    c = next;
  }
  store<u64>(ep, 0);
  store<u64>(ep, 0, 8);
}

/**
 * Restores physical memory to what it was when snapshot `k` was taken:
 * applies the journals of epochs newest..k, drops the snapshots taken after
 * k, and starts k's epoch afresh. False when k is not a kept snapshot.
 * The caller flushes the TLB (frames moved).
 */
export function snapshotRestore(k: u32): bool {
  if (!ASC_FEATURE_THREADS) return snapshotRestore_(k);
  enter();
  const r = snapshotRestore_(k);
  leave();
  return r;
}

@inline function snapshotRestore_(k: u32): bool {
  if (k >= epochCount) return false;
  intercepting = false;
  for (let e = epochCount; e > k; e--) applyEpoch(e - 1);
  epochCount = k + 1;
  epochGen = newGeneration();
  sync();
  return true;
}

/**
 * Forgets snapshot `k`. Its journal still matters to restoring any earlier
 * snapshot, so it is merged into epoch k-1's (newer records first); for the
 * oldest snapshot it is simply freed.
 */
export function snapshotDrop(k: u32): bool {
  if (!ASC_FEATURE_THREADS) return snapshotDrop_(k);
  enter();
  const r = snapshotDrop_(k);
  leave();
  return r;
}

@inline function snapshotDrop_(k: u32): bool {
  if (k >= epochCount) return false;
  const ep = epochs + (k << 4);
  const head = load<u32>(ep) as usize;
  if (k == 0) {
    freeChunks(head, true);
  } else if (head != 0) {
    const prev = epochs + ((k - 1) << 4);
    let tail = head;
    while (load<u32>(tail) != 0) tail = load<u32>(tail) as usize;
    store<u32>(tail, load<u32>(prev));
    store<u32>(prev, head as u32);
    store<u32>(prev, load<u32>(prev, 4) + load<u32>(ep, 4), 4);
    store<u32>(prev, load<u32>(prev, 8) + load<u32>(ep, 8), 8);
  }
  memory.copy(ep, ep + 16, (epochCount - k - 1) << 4);
  epochCount--;
  if (k == epochCount) epochGen = newGeneration(); // the newest epoch changed: frames must be saved again
  sync();
  return true;
}

/** Drops every snapshot and the dirty log's records (memory was reset). */
export function journalReset(): void {
  if (!ASC_FEATURE_THREADS) {
    journalReset_();
    return;
  }
  enter();
  journalReset_();
  leave();
}

@inline function journalReset_(): void {
  for (let k: u32 = 0; k < epochCount; k++) freeChunks(load<u32>(epochs + (k << 4)) as usize, true);
  epochCount = 0;
  snapshotsBroken = false;
  dirtyClear();
  sync();
}
