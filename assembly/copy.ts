/**
 * Bulk copies between translated ranges, inside the core: the host layer
 * translates each side once (access.ts translateRange, one segment per page)
 * and this loop moves the bytes with one memory.copy per run of pieces, so a
 * large copy costs no JavaScript per page. Pieces on device or hooked pages
 * are left to the host (the call refuses them).
 *
 *     segment (abi.ts): +0 u64 pa, +8 u32 host (0 = frame never written), +12 u32 length
 */

import { SEGMENT_BYTES, SEGMENT_SPECIAL } from "../src/arch/abi";

/**
 * Copies `len` bytes from the range whose segments are at `src` to the range
 * whose segments are at `dst` (every destination segment has storage).
 * Returns false, having copied nothing, when a segment is special.
 */
export function copySegments(src: usize, nSrc: u32, dst: usize, nDst: u32, len: u32): bool {
  for (let i: u32 = 0; i < nSrc; i++) if ((load<u32>(src + i * SEGMENT_BYTES, 12) & SEGMENT_SPECIAL) != 0) return false;
  for (let j: u32 = 0; j < nDst; j++) if ((load<u32>(dst + j * SEGMENT_BYTES, 12) & SEGMENT_SPECIAL) != 0) return false;
  let i: u32 = 0;
  let j: u32 = 0;
  let si: u32 = 0; // bytes of source segment i already copied
  let dj: u32 = 0; // bytes of destination segment j already filled
  let done: u32 = 0;
  // Pieces that continue the previous one on both sides in linear memory
  // (frames given storage one after another) are copied together.
  let runSrc: usize = 0;
  let runDst: usize = 0;
  let runLen: u32 = 0;
  while (done < len && i < nSrc && j < nDst) {
    const s = src + i * SEGMENT_BYTES;
    const d = dst + j * SEGMENT_BYTES;
    const sLen = load<u32>(s, 12);
    const dLen = load<u32>(d, 12);
    const n = min(min(sLen - si, dLen - dj), len - done);
    const sHost = load<u32>(s, 8) as usize;
    const dHost = (load<u32>(d, 8) as usize) + dj;
    if (sHost == 0) {
      if (runLen != 0) memory.copy(runDst, runSrc, runLen);
      runLen = 0;
      memory.fill(dHost, 0, n);
    } else if (runLen != 0 && runSrc + runLen == sHost + si && runDst + runLen == dHost) {
      runLen += n;
    } else {
      if (runLen != 0) memory.copy(runDst, runSrc, runLen);
      runSrc = sHost + si;
      runDst = dHost;
      runLen = n;
    }
    done += n;
    si += n;
    dj += n;
    if (si == sLen) {
      i++;
      si = 0;
    }
    if (dj == dLen) {
      j++;
      dj = 0;
    }
  }
  if (runLen != 0) memory.copy(runDst, runSrc, runLen);
  return true;
}
