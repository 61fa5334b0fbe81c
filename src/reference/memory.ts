/**
 * Sparse physical memory for the reference walker: 4 KiB pages created on
 * first write, everything else reads as zero. Little-endian, like x86.
 */
import { PAGE_SHIFT, PAGE_SIZE } from "../arch/index.js";

const PAGE_MASK = BigInt(PAGE_SIZE - 1);
const SHIFT = BigInt(PAGE_SHIFT);

export class PhysicalMemory {
  private readonly pages = new Map<bigint, DataView>();

  private page(frame: bigint, create: boolean): DataView | undefined {
    let p = this.pages.get(frame);
    if (p === undefined && create) {
      p = new DataView(new ArrayBuffer(PAGE_SIZE));
      this.pages.set(frame, p);
    }
    return p;
  }

  readByte(pa: bigint): number {
    const p = this.page(pa >> SHIFT, false);
    return p === undefined ? 0 : p.getUint8(Number(pa & PAGE_MASK));
  }

  writeByte(pa: bigint, v: number): void {
    this.page(pa >> SHIFT, true)!.setUint8(Number(pa & PAGE_MASK), v & 0xff);
  }

  /** Reads `size` bytes little-endian from `pa` (the bytes may span frames). */
  read(pa: bigint, size: number): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.readByte(pa + BigInt(i)));
    return v;
  }

  /** Writes the low `size` bytes of `v` little-endian at `pa`. */
  write(pa: bigint, size: number, v: bigint): void {
    for (let i = 0; i < size; i++) this.writeByte(pa + BigInt(i), Number((v >> BigInt(8 * i)) & 0xffn));
  }

  read64(pa: bigint): bigint {
    const off = Number(pa & PAGE_MASK);
    if (off > PAGE_SIZE - 8) return this.read(pa, 8);
    const p = this.page(pa >> SHIFT, false);
    return p === undefined ? 0n : p.getBigUint64(off, true);
  }

  write64(pa: bigint, v: bigint): void {
    const off = Number(pa & PAGE_MASK);
    if (off > PAGE_SIZE - 8) return this.write(pa, 8, v);
    this.page(pa >> SHIFT, true)!.setBigUint64(off, BigInt.asUintN(64, v), true);
  }

  /** A deep copy, for comparing memory before and after. */
  clone(): PhysicalMemory {
    const m = new PhysicalMemory();
    for (const [frame, p] of this.pages) m.pages.set(frame, new DataView(p.buffer.slice(0)));
    return m;
  }

  /** Frame numbers of every page that has been written, ascending. */
  frames(): bigint[] {
    return [...this.pages.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
