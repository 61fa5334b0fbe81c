/**
 * Pages the fast paths must not serve: physical frames that belong to a
 * device (MMIO) or carry an access hook, and linear pages that carry a hook.
 * The host layer keeps the list of ranges and uploads it here, sorted and
 * merged; an access that reaches such a page returns STATUS_SPECIAL, and the
 * host performs it (device callbacks, hooks). With no range registered the
 * check is one comparison, made only when a TLB entry is filled.
 *
 *     range (16 bytes): +0 u64 first page number, +8 u64 page number past the last
 */

import { PAGE_SHIFT } from "../src/arch/bits";

const MAX_RANGES: u32 = 1024;
const physRanges: usize = memory.data(MAX_RANGES * 16, 16);
const linRanges: usize = memory.data(MAX_RANGES * 16, 16);
let physCount: u32 = 0;
let linCount: u32 = 0;

export const SPECIAL_PHYS: u32 = 0;
export const SPECIAL_LINEAR: u32 = 1;

/** Sets range `i` of a list (page numbers, [start, end)); the host then calls specialCommit. */
export function specialSetRange(kind: u32, i: u32, start: u64, end: u64): bool {
  if (i >= MAX_RANGES) return false;
  const r = (kind == SPECIAL_PHYS ? physRanges : linRanges) + (i << 4);
  store<u64>(r, start);
  store<u64>(r, end, 8);
  return true;
}

/** Makes the first `n` ranges of a list the registered ones. */
export function specialCommit(kind: u32, n: u32): void {
  if (kind == SPECIAL_PHYS) physCount = min(n, MAX_RANGES);
  else linCount = min(n, MAX_RANGES);
}

function contains(base: usize, count: u32, page: u64): bool {
  let lo: u32 = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = base + (mid << 4);
    if (page < load<u64>(r)) hi = mid;
    else if (page >= load<u64>(r, 8)) lo = mid + 1;
    else return true;
  }
  return false;
}

@inline export function anySpecial(): bool {
  return (physCount | linCount) != 0;
}

@inline export function physSpecial(pfn: u64): bool {
  return physCount != 0 && contains(physRanges, physCount, pfn);
}

@inline export function linearSpecial(vpn: u64): bool {
  return linCount != 0 && contains(linRanges, linCount, vpn);
}

/** Whether the 4 KiB page at linear `la`, on physical frame `frame`, is special: a device's or hooked frame, or a hooked linear page. */
@inline export function pageSpecial(frame: u64, la: u64): bool {
  return anySpecial() && (physSpecial(frame >> PAGE_SHIFT) || linearSpecial(la >> PAGE_SHIFT));
}
