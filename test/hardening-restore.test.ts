/**
 * Issue 13, defect 5: restore is all or nothing. A snapshot taken at
 * MAXPHYADDR 36, then MAXPHYADDR raised and a frame written at 2^40: restore
 * used to roll memory back and end later snapshots, then throw RegisterError
 * with the registers not restored, and every later restore failed (the
 * "highest frame ever used" mark never went down). The saved PDPTE
 * registers under PAE paging are put back as saved, whatever memory's PDPT
 * holds now.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, SnapshotError } from "../src/index.js";

describe("restore is all or nothing", () => {
  it("restores a snapshot taken at a lower MAXPHYADDR after a frame was written above it", () => {
    const mmu = new Mmu();
    mmu.maxPhyAddr = 36;
    const pt = mmu.createPageTable();
    pt.map(0x400000n, 0x200000n, 0x1000n, { flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    mmu.write(0x400000n, 8, 0x1111n);
    const s = mmu.snapshot();
    mmu.maxPhyAddr = 48;
    mmu.memory.write(1n << 40n, 8, 0x2222n);
    mmu.write(0x400000n, 8, 0x3333n);
    const later = mmu.snapshot();
    mmu.restore(s);
    expect(mmu.maxPhyAddr).toBe(36);
    expect(mmu.state.cr3).toBe(pt.root);
    expect(mmu.read(0x400000n, 8)).toBe(0x1111n);
    expect(mmu.memory.frames().every((f) => f < 1n << 36n)).toBe(true);
    expect(later.valid).toBe(false);
    // Restoring again works, and MAXPHYADDR can go up and down again.
    mmu.maxPhyAddr = 40;
    mmu.memory.write((1n << 39n) + 0x1000n, 4, 1);
    mmu.restore(s);
    expect(mmu.maxPhyAddr).toBe(36);
    mmu.maxPhyAddr = 44;
    mmu.maxPhyAddr = 36;
  });

  it("freeing the highest frame lowers the MAXPHYADDR floor", () => {
    const mmu = new Mmu();
    mmu.memory.write(1n << 40n, 1, 1);
    expect(() => (mmu.maxPhyAddr = 36)).toThrow();
    mmu.memory.freeFrame(1n << 40n);
    mmu.maxPhyAddr = 36;
    expect(mmu.maxPhyAddr).toBe(36);
  });

  it("puts the saved PDPTE registers back under PAE paging even when memory's PDPT holds a reserved bit", () => {
    const mmu = new Mmu();
    const pdpt = 0x10000n;
    const pd = 0x11000n;
    mmu.memory.write(pdpt, 8, pd | 1n);
    mmu.memory.write(pd, 8, 0x200000n | 0x83n); // a 2 MiB page at 0
    mmu.loadState({ cr0: 0x80000011n, cr3: pdpt, cr4: 0x20n, efer: 0n, maxPhyAddr: 36 });
    const pdptes = mmu.pdptes;
    mmu.memory.write(pdpt, 8, pd | 1n | 0x2n); // bit 1 is reserved in a PDPTE: a MOV to CR3 would #GP now
    const s = mmu.snapshot();
    mmu.memory.write(0x200000n, 4, 7);
    mmu.restore(s);
    expect(mmu.pdptes).toEqual(pdptes);
    expect(mmu.pagingMode).toBe("pae");
    expect(mmu.translate(0x10n)).toBe(0x200010n);
    expect(mmu.memory.read(0x200000n, 4)).toBe(0n);
  });

  it("a refused restore changes nothing", () => {
    const a = new Mmu();
    const b = new Mmu();
    const s = a.snapshot();
    b.memory.write(0x1000n, 1, 5);
    expect(() => b.restore(s)).toThrow(SnapshotError);
    expect(b.memory.read(0x1000n, 1)).toBe(5n);
  });
});
