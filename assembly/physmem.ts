/**
 * Physical memory as the rest of the core changes it: the frame store
 * (frames.ts) with every change noted first for the dirty log and snapshots
 * (journal.ts). The walker, the access paths and the page-table builder call
 * these; only journal.ts, which restores frames, uses frames.ts's raw forms.
 */

import { PAGE_SHIFT, PAGE_SIZE } from "../src/arch/bits";
import { frameHost, frameAlloc, frameFresh, frameRelease as releaseStorage, framesReset as resetStorage } from "./frames";
import { noteBacked, noteForced, noteWrite, journalReset } from "./journal";

/**
 * Host offset of frame `pfn`'s storage, giving it zeroed storage first if it
 * has none (noted as written); 0 when linear memory is exhausted (then nothing
 * changed that a reader could see).
 */
export function frameHostOrAlloc(pfn: u64): usize {
  const host = frameAlloc(pfn);
  if (host == 0 || !frameFresh) return host;
  if (!noteBacked(host, pfn)) {
    frameRelease(pfn);
    return 0;
  }
  return host;
}

/**
 * Drops frame `pfn`'s storage: it reads as zero again (a change the journal
 * notes). Returns the host offset it had (0 if none), so the caller can
 * forget cached pointers to it.
 */
export function frameRelease(pfn: u64): usize {
  const host = frameHost(pfn);
  if (host != 0) noteForced(host);
  return releaseStorage(pfn);
}

/** Drops every frame's storage and every snapshot and dirty-log record. */
export function framesReset(): void {
  journalReset();
  resetStorage();
}

/** Writes `size` bytes at physical `pa` (within one frame); false if memory is exhausted. */
export function physStore(pa: u64, size: u32, value: u64): bool {
  const host = frameHostOrAlloc(pa >> PAGE_SHIFT);
  if (host == 0 || !noteWrite(host)) return false;
  const p = host + ((pa as u32) & (PAGE_SIZE - 1));
  if (size == 8) store<u64>(p, value);
  else if (size == 4) store<u32>(p, value as u32);
  else if (size == 2) store<u16>(p, value as u16);
  else store<u8>(p, value as u8);
  return true;
}
