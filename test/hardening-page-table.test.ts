/**
 * Issue 13, defect 3: a range whose two ends are canonical but which spans
 * the non-canonical hole (0x7ffffffff000 .. 0xffff800000001000) used to be
 * accepted by unmap and protect, removing or changing every mapping of the
 * tree. It is an ArgumentError and changes nothing.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, ArgumentError } from "../src/index.js";

describe("page-table ranges across the non-canonical hole", () => {
  it("unmap, protect and map refuse them and change nothing", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(0x400000n, 0x200000n, 0x1000n, { flags: { writable: true } });
    pt.map(0xffff800000000000n, 0x300000n, 0x1000n, { flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    const start = 0x7ffffffff000n;
    const len = 0xffff800000001000n - start;
    expect(() => pt.unmap(start, len)).toThrow(ArgumentError);
    expect(() => pt.protect(start, len, { writable: false })).toThrow(ArgumentError);
    expect(() => pt.map(start, 0x0n, len)).toThrow(ArgumentError);
    expect(mmu.translate(0x400000n, { op: "write" })).toBe(0x200000n);
    expect(mmu.translate(0xffff800000000000n, { op: "write" })).toBe(0x300000n);
  });
});
