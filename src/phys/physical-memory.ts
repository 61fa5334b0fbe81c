/**
 * Physical memory as the host sees it: the core's sparse frame store, read
 * and written directly (no translation, no permission checks), plus the guest
 * frame allocator the page-table helpers use.
 *
 * Addresses must lie below 2^MAXPHYADDR; a frame never written reads as zero
 * and takes no memory. Writes either complete or, when linear memory cannot
 * grow, throw OutOfMemoryError having written nothing.
 */

import { copyFromLinear } from "./linear-copy.js";
import { PAGE_SIZE } from "../arch/index.js";
import { STATUS_NO_MEMORY, STATUS_NO_FRAME, SEGMENT_BYTES, SEGMENT_SPECIAL, MB_STATUS } from "../arch/index.js";
import type { Bus } from "./bus.js";
import { type Address, toU64, toSized, lo32, hi32 } from "../base/index.js";
import { ScratchBuffer, type Core } from "../core/index.js";
import { ArgumentError, MappingError, OutOfMemoryError, PhysicalAddressError, show, bytesOf } from "../base/index.js";

/**
 * One piece of a range: `host` is the byte's offset in linear memory, 0 when
 * the frame was never written; `special` pieces are on a device or hooked
 * page and go through the bus instead.
 */
export interface Segment {
  pa: bigint;
  host: number;
  len: number;
  special: boolean;
}

/** Performs a special piece: `bytes` are the piece's bytes (to fill for a read). */
export type SpecialPiece = (segment: Segment, bytes: Uint8Array) => void;

/** A reusable buffer in linear memory for the segments of a range (grows as needed). */
export class SegmentBuffer {
  private readonly buf: ScratchBuffer;
  private ptr = 0;
  constructor(private readonly core: Core) {
    this.buf = new ScratchBuffer(core, "range segments");
  }

  /** A buffer for at least `n` segments. */
  reserve(n: number): number {
    this.ptr = this.buf.reserve(n * SEGMENT_BYTES);
    return this.ptr;
  }

  /** Reads `n` segments written by the core. */
  read(n: number): Segment[] {
    const dv = this.core.view();
    const out: Segment[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const s = this.ptr + i * SEGMENT_BYTES;
      const len = dv.getUint32(s + 12, true);
      out[i] = { pa: dv.getBigUint64(s, true), host: dv.getUint32(s + 8, true), len: len & ~SEGMENT_SPECIAL, special: (len & SEGMENT_SPECIAL) !== 0 };
    }
    return out;
  }
}

/** The storage of a plain segment looked up again (a callback may have released it since); 0: none (reads as zero). */
function hostNow(core: Core, s: Segment, write: boolean): number {
  const base = core.x.frameHost(lo32(s.pa), hi32(s.pa), write) >>> 0;
  if (write && base === 0) throw new OutOfMemoryError(`storage for physical 0x${s.pa.toString(16)}`);
  return base === 0 ? 0 : base + Number(s.pa & 0xfffn);
}

/**
 * Copies segments of linear memory into `out` (zeros for frames never
 * written): the special pieces first, through `special`, then the RAM, its
 * storage looked up again if a callback changed storage meanwhile.
 */
export function gather(core: Core, segments: Segment[], out: Uint8Array, special?: SpecialPiece): void {
  const epoch = core.x.storageEpoch();
  let at = 0;
  for (const s of segments) {
    if (s.special) special!(s, out.subarray(at, at + s.len));
    at += s.len;
  }
  const stale = core.x.storageEpoch() !== epoch;
  at = 0;
  for (const s of segments) {
    const host = s.special ? -1 : stale ? hostNow(core, s, false) : s.host;
    if (host === 0) out.fill(0, at, at + s.len);
    else if (host > 0) copyFromLinear(core.u8(), host, s.len, out, at);
    at += s.len;
  }
}

/**
 * Copies `data` into segments of linear memory (every plain segment has
 * storage): the RAM of special pieces gets storage, then the devices are
 * written in address order, then the RAM bytes. A device that throws leaves
 * RAM as it was.
 */
export function scatter(core: Core, segments: Segment[], data: Uint8Array, bus?: Bus): void {
  const epoch = core.x.storageEpoch();
  const pieces = (visit: (s: Segment, bytes: Uint8Array) => void): void => {
    let at = 0;
    for (const s of segments) {
      visit(s, data.subarray(at, at + s.len));
      at += s.len;
    }
  };
  pieces((s, b) => s.special && bus!.reserveRam(s.pa, b.length));
  pieces((s, b) => s.special && bus!.writeDevices(s.pa, b));
  const stale = core.x.storageEpoch() !== epoch;
  pieces((s, b) => {
    if (s.special) bus!.writeRam(s.pa, b);
    else core.u8().set(b, stale ? hostNow(core, s, true) : s.host);
  });
}

export const MAX_RANGE = 0xffffffff;

export class PhysicalMemory {
  private readonly segs: SegmentBuffer;

  /** Set by the Mmu: devices and unmapped space are reached through it. */
  bus: Bus | undefined;
  /** Set by the Mmu: called after reset() (snapshots end there). */
  onReset: (() => void) | undefined;

  private readonly list: ScratchBuffer;

  constructor(
    private readonly core: Core,
    private readonly getMaxPhyAddr: () => number,
  ) {
    this.segs = new SegmentBuffer(core);
    this.list = new ScratchBuffer(core, "the frame list");
  }

  get maxPhyAddr(): number {
    return this.getMaxPhyAddr();
  }

  private check(pa: Address, len: number): bigint {
    const p = toU64(pa, "physical address");
    if (!Number.isSafeInteger(len) || len < 0 || len > MAX_RANGE) throw new ArgumentError(`length ${show(len)} is not an integer in 0..2^32-1`);
    const limit = 1n << BigInt(this.maxPhyAddr);
    if (p >= limit || BigInt(len) > limit - p) throw new PhysicalAddressError(p, BigInt(len), this.maxPhyAddr);
    return p;
  }

  /** Segments of [pa, pa + len), giving frames storage when `write`. */
  segments(pa: bigint, len: number, write: boolean): Segment[] {
    const ptr = this.segs.reserve(Math.floor(len / PAGE_SIZE) + 2);
    const n = this.core.x.physRange(lo32(pa), hi32(pa), len, write, ptr);
    if (n < 0) {
      if (-n === STATUS_NO_MEMORY) throw new OutOfMemoryError(`storage for physical range 0x${pa.toString(16)}+0x${len.toString(16)}`);
      throw new PhysicalAddressError(pa, BigInt(len), this.maxPhyAddr);
    }
    return this.segs.read(n);
  }

  /** Copies `len` bytes from physical `pa`. */
  readBytes(pa: Address, len: number): Uint8Array {
    const p = this.check(pa, len);
    const out = new Uint8Array(len);
    if (len > 0) gather(this.core, this.segments(p, len, false), out, (s, b) => this.bus!.readBytes(s.pa, b));
    return out;
  }

  /** Copies `data` to physical `pa`: all of it, or (out of memory) none of it. */
  writeBytes(pa: Address, data: Uint8Array): void {
    const p = this.check(pa, bytesOf(data).length);
    if (data.length === 0) return;
    const segments = this.segments(p, data.length, true);
    // Unmapped space that faults stops the write before any byte is written.
    for (const s of segments) if (s.special) this.bus!.checkMapped(s.pa, s.len, "write");
    scatter(this.core, segments, data, this.bus);
  }

  /** Reads a little-endian value of `size` bytes (1, 2, 4 or 8). */
  read(pa: Address, size: 1 | 2 | 4 | 8): bigint {
    const p = this.check(pa, checkSize(size));
    const off = Number(p & 0xfffn);
    if (off + size <= PAGE_SIZE && !this.bus?.active) {
      const host = this.core.x.frameHost(lo32(p), hi32(p), false) >>> 0;
      if (host === 0) return 0n;
      const dv = this.core.view();
      const at = host + off;
      if (size === 8) return dv.getBigUint64(at, true);
      if (size === 4) return BigInt(dv.getUint32(at, true));
      if (size === 2) return BigInt(dv.getUint16(at, true));
      return BigInt(dv.getUint8(at));
    }
    const bytes = this.readBytes(p, size);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    return v;
  }

  /** Writes `value` (which must fit in `size` bytes) little-endian. */
  write(pa: Address, size: 1 | 2 | 4 | 8, value: bigint | number): void {
    const p = this.check(pa, checkSize(size));
    const v = toSized(value, size);
    const off = Number(p & 0xfffn);
    if (off + size <= PAGE_SIZE && !this.bus?.active) {
      const host = this.core.x.frameHost(lo32(p), hi32(p), true) >>> 0;
      if (host === 0) throw new OutOfMemoryError(`storage for the frame of physical address 0x${p.toString(16)}`);
      const dv = this.core.view();
      const at = host + off;
      if (size === 8) dv.setBigUint64(at, v, true);
      else if (size === 4) dv.setUint32(at, Number(v), true);
      else if (size === 2) dv.setUint16(at, Number(v), true);
      else dv.setUint8(at, Number(v));
      return;
    }
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    this.writeBytes(p, bytes);
  }

  /** Allocates a zeroed 4 KiB frame for page tables or data; returns its physical address. */
  allocFrame(): bigint {
    const pa = this.core.x.allocFrame();
    if (pa < 0) {
      if (this.core.mbU32(MB_STATUS) === STATUS_NO_FRAME) throw new MappingError("NO_FRAME", `no free physical frame below 2^${this.maxPhyAddr}`);
      throw new OutOfMemoryError("a new frame");
    }
    return BigInt(pa);
  }

  /**
   * Frees a frame: it reads as zero again and the allocator may hand it out
   * again. Throws ArgumentError for a frame that holds nothing (never
   * written, or freed already), so a double free is caught.
   */
  freeFrame(pa: Address): void {
    const p = this.check(pa, 1);
    if ((p & 0xfffn) !== 0n) throw new ArgumentError(`frame address 0x${p.toString(16)} is not 4 KiB aligned`);
    if (!this.core.x.freeFrame(lo32(p), hi32(p))) throw new ArgumentError(`frame 0x${p.toString(16)} is not in use (never written, or freed already)`);
  }

  /** Where allocFrame() starts looking for free frames (default 1 MiB). */
  setAllocBase(pa: Address): void {
    const p = this.check(pa, 0);
    this.core.x.setAllocBase(lo32(p), hi32(p));
  }

  /** Frames that hold storage (were written and not freed). */
  get framesInUse(): number {
    return this.core.x.framesInUse();
  }

  /** Bytes of linear memory the frame store uses (frames, radix tables, buffers). */
  get bytesUsed(): number {
    return this.core.x.hostBytesInUse();
  }

  /** Physical addresses of every frame with storage, ascending. */
  frames(): bigint[] {
    const max = this.framesInUse;
    const ptr = this.list.reserve(max * 8);
    const n = this.core.x.framesList(ptr, max);
    const dv = this.core.view();
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) out.push(dv.getBigUint64(ptr + 8 * i, true) << 12n);
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Drops every frame: all of physical memory reads as zero; the TLB is flushed; snapshots and the dirty log's records end. */
  reset(): void {
    this.core.refuseShared("memory reset");
    this.core.x.memoryReset();
    this.onReset?.();
  }
}

function checkSize(size: number): number {
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw new ArgumentError(`size ${show(size)} is not 1, 2, 4 or 8`);
  return size;
}
