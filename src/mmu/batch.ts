/**
 * Batches: many addresses translated, loaded or stored with one call into the
 * core, through buffers in its linear memory (no call or BigInt per address).
 */

import { ACCESS_OP_MASK, ACCESS_WRITE, ACCESS_SIZE_SHIFT, PAGE_SIZE } from "../arch/index.js";
import { STATUS_PF, STATUS_GP, STATUS_SPECIAL, MB_STATUS, BATCH_FAULT_BIT } from "../arch/index.js";
import { ArgumentError, GeneralProtection, OutOfMemoryError, PageFault, ReentrancyError, show, type Fault } from "../base/index.js";
import type { Core } from "../core/index.js";
import type { AccessSpec } from "./access.js";

/** An access given as a spec, or pre-encoded with `encodeAccess` for hot loops. */
export type AccessArg = AccessSpec | number;

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

/** Decodes a fault word of a batch translation (bit 63 set) into a fault for address `va`. */
export function decodeBatchFault(word: bigint, va: bigint): Fault | undefined {
  if (typeof word !== "bigint" || BigInt.asUintN(64, word) !== word) throw new ArgumentError(`a batch word is a bigint in 0..2^64-1, not ${show(word)}`);
  if (typeof va !== "bigint" || BigInt.asUintN(64, va) !== va) throw new ArgumentError(`a batch address is a bigint in 0..2^64-1, not ${show(va)}`);
  if (!bit(word, BATCH_FAULT_BIT)) return undefined;
  const status = Number((word >> 32n) & 0xffffn);
  const second = bit(word, 62);
  const addr = second ? (va & ~0xfffn) + 0x1000n : va;
  if (status === STATUS_GP) return new GeneralProtection(addr);
  if (status === STATUS_PF) return new PageFault(Number(word & 0xffffffffn), addr);
  return undefined;
}

/**
 * Address and value buffers in the core's linear memory: fill `input` (and
 * `values` for stores) and run translate/load/store over the first n entries
 * with one call. Views are re-taken if linear memory grew in between.
 */
export class Batch {
  private readonly inPtr: number;
  private readonly outPtr: number;
  private buf: ArrayBuffer | undefined;
  private inView!: BigUint64Array;
  private outView!: BigUint64Array;

  constructor(
    private readonly core: Core,
    readonly capacity: number,
    private readonly encode: (a: AccessArg) => number,
    /** Performs one access on a device or hooked page (the Mmu's slow path). */
    private readonly special: (va: bigint, acc: number, value?: bigint) => bigint,
  ) {
    if (!Number.isInteger(capacity) || capacity <= 0 || capacity > 1 << 24) throw new ArgumentError(`batch capacity ${show(capacity)} is not in 1..2^24`);
    const bytes = Math.ceil((capacity * 8) / PAGE_SIZE) * PAGE_SIZE;
    this.inPtr = core.x.scratchAlloc(bytes) >>> 0;
    this.outPtr = core.x.scratchAlloc(bytes) >>> 0;
    if (this.inPtr === 0 || this.outPtr === 0) throw new OutOfMemoryError(`batch buffers of ${capacity} entries`);
  }

  private views(): void {
    const b = this.core.x.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.inView = new BigUint64Array(b, this.inPtr, this.capacity);
      this.outView = new BigUint64Array(b, this.outPtr, this.capacity);
    }
  }

  /** Linear addresses to translate, load from or store to. */
  get input(): BigUint64Array {
    this.views();
    return this.inView;
  }

  /** Results: physical addresses / fault words (translate), values (load); values to store (store). */
  get output(): BigUint64Array {
    this.views();
    return this.outView;
  }

  /** Alias of `output`, for stores: the values to write. */
  get values(): BigUint64Array {
    return this.output;
  }

  private count(n: number): number {
    if (!Number.isInteger(n) || n < 0 || n > this.capacity) throw new ArgumentError(`batch count ${show(n)} is not in 0..${this.capacity}`);
    return n;
  }

  /** Translates input[0..n) into output; returns the number of faults (fault words in output). */
  translate(n: number, access: AccessArg): number {
    const count = this.count(n);
    const acc = this.encode(access);
    if (this.busy) this.exclusive(() => 0);
    return this.core.x.translateBatch(this.inPtr, this.outPtr, count, acc);
  }

  /**
   * As translate, for a streaming scan: TLB hits serve as usual, but a miss
   * walks without filling the TLB (A and D are set as by any walk), so
   * scanning many pages once does not evict the translations in use.
   */
  translateStream(n: number, access: AccessArg): number {
    const count = this.count(n);
    const acc = this.encode(access);
    if (this.busy) this.exclusive(() => 0);
    return this.core.x.translateStream(this.inPtr, this.outPtr, count, acc);
  }

  /** A load or store that reached a device or hooked page is running callbacks: the buffers are in use. */
  private busy = false;

  /**
   * Runs a load or store loop over the buffers. A callback (device, hook)
   * that uses this same Batch while it runs would change the addresses and
   * values under it: refused with ReentrancyError (use another Batch there).
   */
  private exclusive(run: () => number): number {
    if (this.busy) throw new ReentrancyError("this Batch is in use by a load or store that called back (a device or hook): use another Batch inside callbacks");
    this.busy = true;
    try {
      return run();
    } finally {
      this.busy = false;
    }
  }

  /** Loads input[0..n) into output; stops at a fault and returns how many completed (lastFault() tells why). */
  load(n: number, access: AccessArg): number {
    const acc = this.encode(access);
    if ((acc & ACCESS_OP_MASK) === ACCESS_WRITE) throw new ArgumentError("a batch load needs a read or fetch access");
    const count = this.count(n);
    if (this.busy) this.exclusive(() => 0);
    let i = this.core.x.loadBatch(this.inPtr, this.outPtr, count, acc);
    if (i === count || this.core.mbU32(MB_STATUS) !== STATUS_SPECIAL) return i;
    return this.exclusive(() => {
      for (;;) {
        this.output[i] = this.special(this.input[i]!, acc);
        i++;
        if (i === count) return i;
        i += this.core.x.loadBatch(this.inPtr + 8 * i, this.outPtr + 8 * i, count - i, acc);
        if (i === count || this.core.mbU32(MB_STATUS) !== STATUS_SPECIAL) return i;
      }
    });
  }

  /** Stores values[i] at input[i] for i < n; stops at a fault and returns how many completed. */
  store(n: number, access: AccessArg): number {
    const acc = this.encode(access);
    if ((acc & ACCESS_OP_MASK) !== ACCESS_WRITE) throw new ArgumentError("a batch store needs a write access");
    const count = this.count(n);
    const size = (acc >> ACCESS_SIZE_SHIFT) & 15 || 1;
    if (this.busy) this.exclusive(() => 0);
    let i = this.core.x.storeBatch(this.inPtr, this.outPtr, count, acc);
    if (i === count || this.core.mbU32(MB_STATUS) !== STATUS_SPECIAL) return i;
    return this.exclusive(() => {
      for (;;) {
        this.special(this.input[i]!, acc, BigInt.asUintN(size * 8, this.output[i]!));
        i++;
        if (i === count) return i;
        i += this.core.x.storeBatch(this.inPtr + 8 * i, this.outPtr + 8 * i, count - i, acc);
        if (i === count || this.core.mbU32(MB_STATUS) !== STATUS_SPECIAL) return i;
      }
    });
  }
}
