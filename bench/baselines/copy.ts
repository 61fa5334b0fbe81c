/**
 * Baselines for copies: the fastest copies of the same bytes without any
 * translation or ownership check.
 *
 * - `memory.copy` inside the core's linear memory (the core's `hostCopy`
 *   export: one wasm `memory.copy` instruction), for VM-space-to-VM-space
 *   copies, whose bytes both live in linear memory;
 * - `Uint8Array.prototype.set` between two JavaScript buffers, for copies
 *   between a VM space and a host Uint8Array.
 */

import { coreMod, type Core } from "../lib.js";

export class MemoryCopyBaseline {
  private readonly core: Core;
  readonly src: number;
  readonly dst: number;

  constructor(readonly capacity: number) {
    this.core = new coreMod.Core();
    this.src = this.core.x.scratchAlloc(capacity) >>> 0;
    this.dst = this.core.x.scratchAlloc(capacity) >>> 0;
    if (this.src === 0 || this.dst === 0) throw new Error("bench: no linear memory for the memory.copy baseline");
    const u8 = this.core.u8();
    for (let i = 0; i < capacity; i += 4096) u8[this.src + i] = i & 0xff;
  }

  /** A function copying len bytes with memory.copy inside the core. */
  copier(len: number): () => void {
    const x = this.core.x;
    const d = this.dst;
    const s = this.src;
    return () => x.hostCopy(d, s, len);
  }
}

export class TypedArraySetBaseline {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  constructor(readonly capacity: number) {
    this.src = new Uint8Array(capacity);
    this.dst = new Uint8Array(capacity);
    for (let i = 0; i < capacity; i += 4096) this.src[i] = i & 0xff;
  }

  /** A function doing dst.set(src[0..len)) (the view made once, outside the timed call). */
  copier(len: number): () => void {
    const s = this.src.subarray(0, len);
    const d = this.dst;
    return () => d.set(s);
  }
}
