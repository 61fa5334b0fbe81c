/**
 * Baseline 1: the minimal page walker a skilled JavaScript developer writes
 * when they do not adopt x86mmu. Guest physical memory is one flat
 * `Uint32Array` (RAM below 4 GiB); a linear address is two u32 halves; each
 * level reads the low word of its entry, checks only P and (for a CPL 3
 * access) U/S, and follows the address. No reserved-bit, R/W, XD, SMEP/SMAP
 * or protection-key checks, no accessed/dirty flags, no TLB: one full walk per
 * address, in a loop the JIT inlines. (PS is followed, since 2 MiB pages
 * must translate.)
 *
 * It is the speed floor for "walk the tables in JavaScript": the number the
 * core's TLB and batches have to beat.
 */

export class MinimalWalker {
  /** Physical address of the last successful translation, as two u32 halves. */
  paLo = 0;
  paHi = 0;

  constructor(
    /** Flat physical memory, 4-byte words. */
    readonly mem: Uint32Array,
    /** Byte address of the root table (CR3 bits 31:12). */
    readonly root: number,
    readonly levels: 4 | 5,
  ) {}

  /** Translates hi:lo; false on a fault (not present, or a user access to a supervisor page). */
  translate(lo: number, hi: number, user: boolean): boolean {
    const mem = this.mem;
    const us = user ? 4 : 0;
    let t = this.root >>> 2;
    let i: number;
    let e: number;
    if (this.levels === 5) {
      i = t + (((hi >>> 16) & 511) << 1);
      e = mem[i]!;
      if ((e & 1) === 0 || (e & us) !== us) return false;
      t = (e & 0xfffff000) >>> 2;
    }
    i = t + (((hi >>> 7) & 511) << 1); // PML4: bits 47:39
    e = mem[i]!;
    if ((e & 1) === 0 || (e & us) !== us) return false;
    t = (e & 0xfffff000) >>> 2;
    i = t + ((((hi & 127) << 2) | (lo >>> 30)) << 1); // PDPT: bits 38:30
    e = mem[i]!;
    if ((e & 1) === 0 || (e & us) !== us) return false;
    if ((e & 0x80) !== 0) {
      this.paLo = ((e & 0xc0000000) | (lo & 0x3fffffff)) >>> 0;
      this.paHi = mem[i + 1]! & 0xfffff;
      return true;
    }
    t = (e & 0xfffff000) >>> 2;
    i = t + (((lo >>> 21) & 511) << 1); // PD: bits 29:21
    e = mem[i]!;
    if ((e & 1) === 0 || (e & us) !== us) return false;
    if ((e & 0x80) !== 0) {
      this.paLo = ((e & 0xffe00000) | (lo & 0x1fffff)) >>> 0;
      this.paHi = mem[i + 1]! & 0xfffff;
      return true;
    }
    t = (e & 0xfffff000) >>> 2;
    i = t + (((lo >>> 12) & 511) << 1); // PT: bits 20:12
    e = mem[i]!;
    if ((e & 1) === 0 || (e & us) !== us) return false;
    this.paLo = ((e & 0xfffff000) | (lo & 0xfff)) >>> 0;
    this.paHi = mem[i + 1]! & 0xfffff;
    return true;
  }

  /** Translates n addresses (lo, hi pairs) into out (lo, hi pairs; 0xffffffff:0xffffffff on a fault); returns the faults. */
  translateBatch(input: Uint32Array, out: Uint32Array, n: number, user: boolean): number {
    let faults = 0;
    for (let k = 0; k < n; k++) {
      if (this.translate(input[2 * k]!, input[2 * k + 1]!, user)) {
        out[2 * k] = this.paLo;
        out[2 * k + 1] = this.paHi;
      } else {
        out[2 * k] = 0xffffffff;
        out[2 * k + 1] = 0xffffffff;
        faults++;
      }
    }
    return faults;
  }
}
