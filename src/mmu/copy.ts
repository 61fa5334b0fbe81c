/**
 * Bulk copies between address spaces and host buffers, page by page: each
 * side's range is translated once into segments by the core
 * (`translateRange`, which walks every page for the access and sets A/D as the
 * processor does), then each run of bytes moves with one `copyWithin` / `set`
 * / `fill` on linear memory. No byte is copied by a JavaScript loop.
 *
 * A range that faults part-way is translated up to the faulting page only:
 * the prefix before the fault is copied, nothing after it.
 *
 *     segment (16 bytes, abi.ts SEGMENT_BYTES):
 *     +0  u64 pa     physical address of the first byte
 *     +8  u32 host   its offset in linear memory (0: a frame never written, reads as zero)
 *     +12 u32 len    bytes in this page (SEGMENT_SPECIAL set: a device or hooked
 *                    page, performed through the Mmu's bus, hooks included)
 */

import { PAGE_SIZE } from "../arch/index.js";
import { STATUS_NO_MEMORY, SEGMENT_BYTES, SEGMENT_SPECIAL } from "../arch/index.js";
import { ACCESS_USER } from "../arch/index.js";
import { busOf } from "../phys/index.js";
import { lo32, hi32, join64 } from "../base/index.js";
import type { Core } from "../core/index.js";
import { OutOfMemoryError, PageFault, NestedPageFault, type Fault } from "../base/index.js";
import { SegmentBuffer, copyFromLinear } from "../phys/index.js";

/** A translated prefix of a range: `n` segments at `ptr` covering `bytes` bytes, and the fault that ended it early. */
export class Translated {
  private copied: Uint32Array | undefined;

  constructor(
    readonly core: Core,
    /** Linear address of the first byte, and the privilege level of the access (for hooks on special pages). */
    readonly va: bigint,
    readonly cpl: 0 | 3,
    readonly ptr: number,
    readonly n: number,
    readonly bytes: number,
    readonly fault: Fault | undefined,
    /** The core's storage epoch when the range was translated: when it changes, a callback freed storage or started a journal generation, and hosts are looked up again. */
    public epoch: number,
    /** Whether a segment is special (a device or hooked page): only then can a callback run before the copy is done. */
    readonly special: boolean,
  ) {}

  /**
   * The segments as u32 words (pa lo, pa hi, host, len per segment). A range
   * with a special segment is pinned when it is translated (`pin`): callbacks
   * will run, and each call owns its copy, so a hook or device callback that
   * copies too (re-entrantly) cannot overwrite it, and one that grows linear
   * memory cannot detach it. Without one no callback runs between
   * translation and copy, and the segments are read in place (a view made
   * afresh at each use, so a memory grown meanwhile is no harm).
   */
  get words(): Uint32Array {
    return this.copied ?? this.view();
  }

  /** Takes the per-call copy of the segments now: before any callback runs (this side's, or the other side's of a copy). */
  pin(): void {
    this.copied ??= this.view().slice();
  }

  private view(): Uint32Array {
    return new Uint32Array(this.core.x.memory.buffer, this.ptr, this.n * (SEGMENT_BYTES / 4));
  }
}

export class RangeTranslator {
  private readonly buf: SegmentBuffer;
  constructor(readonly core: Core) {
    this.buf = new SegmentBuffer(core);
  }

  private fault(): Fault {
    return this.core.fault();
  }

  /**
   * Translates [va, va + len) for `acc` (len < 2^32). On a fault, translates
   * again only the bytes before the faulting address and reports the fault.
   * Throws OutOfMemoryError when a written frame cannot get storage.
   */
  translate(va: bigint, len: number, acc: number): Translated {
    const x = this.core.x;
    const ptr = this.buf.reserve(Math.floor(len / PAGE_SIZE) + 2);
    const n = x.translateRange(lo32(va), hi32(va), len, acc, ptr);
    const cpl = (acc & ACCESS_USER) !== 0 ? 3 : 0;
    if (n >= 0) return this.translated(va, cpl, ptr, n, len, undefined);
    if (-n === STATUS_NO_MEMORY) throw new OutOfMemoryError("storage for a written frame");
    const fault = this.fault();
    const at = fault instanceof PageFault ? fault.cr2 : fault instanceof NestedPageFault ? fault.linear : fault.address;
    const prefix = at > va ? Number(at - va < BigInt(len) ? at - va : BigInt(len)) : 0;
    if (prefix === 0) return new Translated(this.core, va, cpl, ptr, 0, 0, fault, x.storageEpoch(), false);
    const m = x.translateRange(lo32(va), hi32(va), prefix, acc, ptr);
    if (m < 0) {
      if (-m === STATUS_NO_MEMORY) throw new OutOfMemoryError("storage for a written frame");
      throw new Error(`x86mmu: the prefix before a fault at 0x${at.toString(16)} faulted again (status ${-m})`);
    }
    return this.translated(va, cpl, ptr, m, prefix, fault);
  }

  private translated(va: bigint, cpl: 0 | 3, ptr: number, n: number, bytes: number, fault: Fault | undefined): Translated {
    const x = this.core.x;
    const t = new Translated(this.core, va, cpl, ptr, n, bytes, fault, x.storageEpoch(), x.rangeSpecialCount() !== 0);
    // With a special segment, callbacks will run: take the per-call copy of the segments now.
    if (t.special) t.pin();
    return t;
  }
}

const translators = new WeakMap<Core, [RangeTranslator, RangeTranslator]>();

/** The source and destination translators of a core (two buffers, so both sides of a copy can live in one core). */
export function translatorsOf(core: Core): [RangeTranslator, RangeTranslator] {
  let t = translators.get(core);
  if (!t) translators.set(core, (t = [new RangeTranslator(core), new RangeTranslator(core)]));
  return t;
}

interface Segs {
  host: Uint32Array;
  len: Uint32Array;
}

/** Hosts and lengths of a range with no special segment. */
function segs(t: Translated): Segs {
  const host = new Uint32Array(t.n);
  const len = new Uint32Array(t.n);
  const words = t.words;
  for (let i = 0; i < t.n; i++) {
    host[i] = words[i * 4 + 2]!;
    len[i] = words[i * 4 + 3]! & ~SEGMENT_SPECIAL;
  }
  return { host, len };
}

function busFor(t: Translated) {
  const bus = busOf(t.core);
  if (!bus) throw new Error("x86mmu: a special page was reached without a bus");
  return bus;
}

/** The physical address of segment i's first byte. */
function segmentPa(t: Translated, i: number): bigint {
  const words = t.words;
  return join64(words[i * 4]!, words[i * 4 + 1]!);
}

/** A piece of a special segment moved through the bus (devices, unmapped space): `offset` bytes into segment i. */
function specialPiece(t: Translated, i: number, offset: number, bytes: Uint8Array, op: "read" | "write"): void {
  const pa = segmentPa(t, i) + BigInt(offset);
  busFor(t).copyPiece(op, pa, bytes);
}

/**
 * Before any byte of a copy moves: checks the special pieces among the first
 * `count` bytes of each side and fires their before-hooks (a throwing hook
 * or a faulting unmapped address then stops the copy with nothing written).
 * Returns what fires the after-hooks.
 */
function prepareSpecial(count: number, ...sides: [Translated | undefined, "read" | "write"][]): () => void {
  const finishes: (() => void)[] = [];
  for (const [t, op] of sides) {
    if (!t || !t.special) continue;
    const words = t.words;
    const pieces: { va: bigint; pa: bigint; len: number }[] = [];
    let done = 0;
    for (let i = 0; i < t.n && done < count; i++) {
      const raw = words[i * 4 + 3]!;
      const len = Math.min(raw & ~SEGMENT_SPECIAL, count - done);
      if ((raw & SEGMENT_SPECIAL) !== 0) pieces.push({ va: t.va + BigInt(done), pa: segmentPa(t, i), len });
      done += len;
    }
    if (pieces.length) finishes.push(busFor(t).prepare(op, pieces, t.cpl));
  }
  return () => finishes.forEach((f) => f());
}

/**
 * Visits the first `count` bytes of a translated range as runs: adjacent
 * pieces whose storage is adjacent in linear memory too (frames given
 * storage one after another often are) become one run, so a large copy makes
 * few calls. `host` is 0 for a run of frames never written; special pieces
 * come one at a time with `special` set.
 */
function runs(t: Translated, count: number, visit: (host: number, offset: number, len: number, special: boolean, segment: number) => void): void {
  const words = t.words;
  let done = 0;
  let runHost = 0;
  let runStart = 0;
  let runLen = 0;
  const flush = (): void => {
    if (runLen > 0) visit(runHost, runStart, runLen, false, -1);
    runLen = 0;
  };
  for (let i = 0; i < t.n && done < count; i++) {
    const host = words[i * 4 + 2]!;
    const raw = words[i * 4 + 3]!;
    const len = Math.min(raw & ~SEGMENT_SPECIAL, count - done);
    if ((raw & SEGMENT_SPECIAL) !== 0) {
      flush();
      visit(0, done, len, true, i);
    } else if (runLen > 0 && ((runHost === 0 && host === 0) || (runHost !== 0 && host === runHost + runLen))) {
      runLen += len;
    } else {
      flush();
      runHost = host;
      runStart = done;
      runLen = len;
    }
    done += len;
  }
  flush();
}

/** Visits the special segments among the first `count` bytes: segment i, its offset in the range, its length there. */
function eachSpecial(t: Translated, count: number, visit: (i: number, offset: number, len: number) => void): void {
  if (!t.special) return;
  const words = t.words;
  let done = 0;
  for (let i = 0; i < t.n && done < count; i++) {
    const raw = words[i * 4 + 3]!;
    const len = Math.min(raw & ~SEGMENT_SPECIAL, count - done);
    if ((raw & SEGMENT_SPECIAL) !== 0) visit(i, done, len);
    done += len;
  }
}

/**
 * Callbacks ran since the range was translated (hooks, devices) and one of
 * them released storage or started a journal generation (a snapshot, a
 * dirty-log clear): looks up the storage of the plain segments again (for a
 * write, giving it and noting the write), so no byte goes to storage that
 * another frame may now use, and no write escapes a new snapshot.
 */
function refreshHosts(t: Translated, count: number, write: boolean): void {
  const x = t.core.x;
  if (x.storageEpoch() === t.epoch) return;
  // Only a callback changes the epoch, and callbacks run only for pinned ranges; pinning here keeps the
  // rewrite below out of the shared segment buffer whatever changes.
  t.pin();
  const words = t.words; // the copy: frameHost may grow linear memory
  let done = 0;
  for (let i = 0; i < t.n && done < count; i++) {
    const raw = words[i * 4 + 3]!;
    done += Math.min(raw & ~SEGMENT_SPECIAL, count - done);
    if ((raw & SEGMENT_SPECIAL) !== 0) continue;
    const lo = words[i * 4]!;
    const base = x.frameHost(lo, words[i * 4 + 1]!, write) >>> 0;
    if (write && base === 0) throw new OutOfMemoryError("storage for a written frame");
    words[i * 4 + 2] = base === 0 ? 0 : base + (lo & (PAGE_SIZE - 1));
  }
  t.epoch = x.storageEpoch();
}

/** The first `count` bytes of a translated range into `out` at `at`, without hooks: device pieces first (into their own buffers), then the RAM, so `out` changes only once every device read succeeded. */
function readRange(src: Translated, count: number, out: Uint8Array, at: number): void {
  const staged = src.special ? new Map<number, Uint8Array>() : undefined;
  eachSpecial(src, count, (i, _offset, len) => {
    const tmp = new Uint8Array(len);
    specialPiece(src, i, 0, tmp, "read");
    staged!.set(i, tmp);
  });
  refreshHosts(src, count, false);
  runs(src, count, (host, offset, len, special, i) => {
    const o = at + offset;
    if (special) out.set(staged!.get(i)!, o);
    else if (host === 0) out.fill(0, o, o + len);
    else copyFromLinear(src.core.u8(), host, len, out, o);
  });
}

/**
 * `count` bytes of `data` from `at` into a translated (written) range,
 * without hooks: the RAM of special pages gets storage, then every device
 * piece is written in address order, then the RAM bytes. A device that
 * throws leaves RAM unwritten (the device pieces before it were performed).
 */
function writeRange(data: Uint8Array, at: number, count: number, dst: Translated): void {
  let bus: ReturnType<typeof busFor> | undefined;
  eachSpecial(dst, count, (i, _offset, len) => (bus ??= busFor(dst)).reserveRam(segmentPa(dst, i), len));
  eachSpecial(dst, count, (i, offset, len) => bus!.writeDevices(segmentPa(dst, i), data.subarray(at + offset, at + offset + len)));
  refreshHosts(dst, count, true);
  runs(dst, count, (host, offset, len, special, i) => {
    const piece = data.subarray(at + offset, at + offset + len);
    if (special) bus!.writeRam(segmentPa(dst, i), piece);
    else dst.core.u8().set(piece, host);
  });
}

/** Copies the first `count` bytes of a translated range into `out` at `at`. */
export function spaceToHost(src: Translated, count: number, out: Uint8Array, at: number): void {
  if (!src.special && src.n === 1) {
    // One plain page (a page-sized read, the common call): no run to merge, no callback.
    const words = src.words;
    const host = words[2]!;
    if (host === 0) out.fill(0, at, at + count);
    else copyFromLinear(src.core.u8(), host, count, out, at);
    return;
  }
  const finish = prepareSpecial(count, [src, "read"]);
  readRange(src, count, out, at);
  finish();
}

/** Copies `count` bytes of `data` from `at` into the first `count` bytes of a translated (written) range. */
export function hostToSpace(data: Uint8Array, at: number, count: number, dst: Translated): void {
  if (!dst.special && dst.n === 1) {
    // One plain page: its storage was given when it was translated.
    dst.core.u8().set(data.subarray(at, at + count), dst.words[2]!);
    return;
  }
  const finish = prepareSpecial(count, [dst, "write"]);
  writeRange(data, at, count, dst);
  finish();
}

/**
 * Copies `count` bytes between two translated ranges (one core: inside the
 * core; two cores: set). With a device or hooked page on either side, the
 * source is read whole first (devices included), then written as
 * hostToSpace writes: a throwing device leaves the destination's RAM as it was.
 */
export function spaceToSpace(src: Translated, dst: Translated, count: number): void {
  if (!src.special && !dst.special) {
    // The common case, no device or hooked page: one core, one call (memory.copy per run in the core); two cores, set.
    if (src.core !== dst.core || !src.core.x.copySegments(src.ptr, src.n, dst.ptr, dst.n, count)) spaceToSpaceDirect(src, dst, count);
    return;
  }
  // Callbacks will run (devices, hooks): neither side's segments may be read in place after them.
  src.pin();
  dst.pin();
  const finish = prepareSpecial(count, [src, "read"], [dst, "write"]);
  const tmp = new Uint8Array(count);
  readRange(src, count, tmp, 0);
  writeRange(tmp, 0, count, dst);
  finish();
}

/** Two cores, RAM on both sides: no callback runs, so the translated hosts stay valid. */
function spaceToSpaceDirect(src: Translated, dst: Translated, count: number): void {
  const s = segs(src);
  const d = segs(dst);
  let i = 0;
  let j = 0;
  let si = 0; // bytes used of src segment i
  let dj = 0; // bytes used of dst segment j
  let done = 0;
  const smem = src.core.u8();
  const dmem = dst.core === src.core ? smem : dst.core.u8();
  while (done < count) {
    const l = Math.min(s.len[i]! - si, d.len[j]! - dj, count - done);
    const sh = s.host[i]!;
    const dh = d.host[j]! + dj;
    if (sh === 0) dmem.fill(0, dh, dh + l);
    else if (dmem === smem) dmem.copyWithin(dh, sh + si, sh + si + l);
    else dmem.set(smem.subarray(sh + si, sh + si + l), dh);
    done += l;
    si += l;
    dj += l;
    if (si === s.len[i]) (i++, (si = 0));
    if (dj === d.len[j]) (j++, (dj = 0));
  }
}
