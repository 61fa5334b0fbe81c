/**
 * Issue 13, defect 8: recovery after running out of memory. Once the 4 GiB
 * store had filled, `batch(1024)` and a 1 MiB `readBytes` failed with
 * OUT_OF_MEMORY forever, even after `memory.reset()` left no frame in use:
 * buffers of more than 4 KiB came only from never-used memory. Released
 * memory (4 KiB units, radix blocks) now serves them too.
 */
import { describe, it, expect } from "vitest";
import { Mmu, OutOfMemoryError } from "../src/index.js";

describe("after running out of memory", () => {
  it("memory.reset() makes room for batches, large copies and frames again", () => {
    const mmu = new Mmu();
    // Most of the 4 GiB in buffers that are never touched (no resident memory), the rest in frames.
    const keep = [];
    for (let i = 0; i < 14; i++) keep.push(mmu.batch(1 << 24));
    let written = 0;
    try {
      for (;; written++) mmu.memory.write(0x100000000n + BigInt(written) * 0x1000n, 1, 1);
    } catch (e) {
      expect(e).toBeInstanceOf(OutOfMemoryError);
    }
    expect(written).toBeGreaterThan(1000);
    expect(() => mmu.batch(1024)).toThrow(OutOfMemoryError);
    mmu.memory.reset();
    expect(mmu.memory.framesInUse).toBe(0);
    const b = mmu.batch(1024);
    b.input[0] = 0x1000n;
    expect(b.translate(1, { op: "read" })).toBe(0);
    expect(mmu.readBytes(0n, 1 << 20).length).toBe(1 << 20);
    mmu.writeBytes(0x200000n, new Uint8Array(1 << 20).fill(7));
    expect(mmu.memory.read(0x2fffffn, 1)).toBe(7n);
    for (let i = 0; i < 2000; i++) mmu.memory.write(0x200000000n + BigInt(i) * 0x1000n, 1, 1);
    const pt = mmu.createPageTable();
    pt.mapFresh(0x400000n, 0x10000n);
    expect(mmu.memory.framesInUse).toBeGreaterThan(2000);
    expect(keep.length).toBe(14);
  }, 60_000);
});
