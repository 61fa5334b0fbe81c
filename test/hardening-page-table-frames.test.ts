/**
 * Issue 13, defect 10: page-table frames are never data. Using owner-layer
 * calls only (plus one physical read to learn a table's address), a space
 * could map its own page-table frame, rewrite a PTE through a writer, and then
 * read a frame another writer held exclusively; inv() turned false, but only
 * if called. As OSTD types frames apart, the VmSpace cursor now refuses to map
 * a frame that holds a page table of any space (OwnershipError, rule
 * PAGE_TABLE_FRAME_RULE), and the frame allocator never puts a new table in
 * a frame some space maps as data.
 */
import { describe, it, expect } from "vitest";
import { Mmu, VmSpace, OwnershipError, PAGE_TABLE_FRAME_RULE } from "../src/index.js";

function setup() {
  const mmu = new Mmu();
  const kernel = VmSpace.create(mmu, { kind: "kernel" });
  const space = VmSpace.create(mmu, { kernel });
  space.mapFresh(0x400000n, 0x1000n);
  space.activate();
  return { mmu, kernel, space };
}

/** The PT frame that maps `va` in the tree at `root` (4 levels). */
function ptOf(mmu: Mmu, root: bigint, va: bigint): bigint {
  let table = root;
  for (let level = 4; level > 1; level--) {
    const e = mmu.memory.read(table + ((va >> BigInt(12 + 9 * (level - 1))) & 511n) * 8n, 8);
    table = e & 0x000ffffffffff000n;
  }
  return table;
}

describe("page-table frames are never mapped as data", () => {
  it("the cursor refuses to map the space's own page-table frame, changing nothing", () => {
    const { mmu, space } = setup();
    const pt = ptOf(mmu, space.root, 0x400000n);
    const before = space.owner.mvRange!.toString();
    let err: unknown;
    try {
      space.map(0x500000n, pt, 0x1000n);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OwnershipError);
    expect((err as OwnershipError).rule).toBe(PAGE_TABLE_FRAME_RULE);
    expect(space.owner.mvRange!.toString()).toBe(before);
    expect(space.owner.inv()).toBe(true);
    expect(mmu.tryTranslate(0x500000n).ok).toBe(false);
    // The root itself, and a range that merely contains a table frame, are refused too.
    expect(() => space.map(0x500000n, space.root, 0x1000n)).toThrow(OwnershipError);
    expect(() => space.map(0x600000n, 0n, 0x200000n, { size: "2M" })).toThrow(OwnershipError);
  });

  it("a frame holding another space's (or the kernel's) table is refused as well", () => {
    const { mmu, kernel, space } = setup();
    const other = VmSpace.create(mmu);
    other.mapFresh(0x400000n, 0x1000n);
    expect(() => space.map(0x500000n, ptOf(mmu, other.root, 0x400000n), 0x1000n)).toThrow(OwnershipError);
    expect(() => space.map(0x500000n, kernel.root, 0x1000n)).toThrow(OwnershipError);
    const kernelTable = mmu.memory.read(kernel.root + 256n * 8n, 8) & 0x000ffffffffff000n;
    expect(() => space.map(0x500000n, kernelTable, 0x1000n)).toThrow(OwnershipError);
  });

  it("a table made later never lands in a frame a space maps as data", () => {
    const { mmu, space } = setup();
    // The frame the allocator would hand out next, mapped as data first.
    const next = mmu.memory.allocFrame();
    mmu.memory.freeFrame(next);
    const after = next + 0x1000n; // and the frame after it, not on the free list
    space.map(0x500000n, next, 0x2000n);
    // A mapping far away needs three new tables.
    space.mapFresh(0x7f0000000000n, 0x1000n);
    const tables = space.tableFrames();
    expect(tables).not.toContain(next);
    expect(tables).not.toContain(after);
    // Through the data mapping, a writer reaches the data frames only.
    space.withWriter(0x500000n, 0x2000, (w) => w.writeBytes(new Uint8Array(0x2000).fill(0xff)));
    expect(space.owner.inv()).toBe(true);
    expect(mmu.probe(0x7f0000000000n).ok).toBe(true);
    // Once unmapped, the frames may hold tables again.
    space.unmap(0x500000n, 0x2000n);
    expect(mmu.memory.allocFrame()).toBeTypeOf("bigint");
  });
});
