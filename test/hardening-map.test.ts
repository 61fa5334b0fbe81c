/**
 * Issue 13, defect 7: a refused map changes nothing. `pt.map` of 16 TiB used
 * to be refused with OUT_OF_MEMORY after 21 s, leaving about a million frames
 * in the dirty log and on the free list; a refused `mapFresh` moved the
 * allocator and added dirty-log entries. Now the frames a map needs are
 * counted first (a mapping that cannot fit is refused at once), taken before
 * any entry is written, and given back without a trace when they cannot all
 * be had; mapFresh is one such operation.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, MappingError, OutOfMemoryError } from "../src/index.js";

function setup() {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  pt.map(0x400000n, 0x200000n, 0x1000n, { flags: { writable: true } });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  mmu.dirtyLog.start();
  return { mmu, pt };
}

/** What a refusal must leave as it was (bytesUsed may grow: the buffers the host keeps in linear memory count there). */
function digest(mmu: Mmu) {
  return {
    frames: mmu.memory.frames().join(","),
    inUse: mmu.memory.framesInUse,
    dirty: mmu.dirtyLog.frames().join(","),
  };
}

describe("a refused map changes nothing", () => {
  it("a 16 TiB map is refused at once, with no trace", () => {
    const { mmu, pt } = setup();
    const snap = mmu.snapshot();
    const before = digest(mmu);
    const t0 = Date.now();
    expect(() => pt.map(0x10000000000n, 0n, (1n << 44n) - 0x1000n)).toThrow(OutOfMemoryError);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(digest(mmu)).toEqual(before);
    expect(snap.frames).toBe(0);
    expect(mmu.memory.allocFrame()).toBe(0x104000n); // the allocator did not move (root 0x100000, tables 0x101000..0x103000)
  });

  it("a mapFresh refused at its last page leaves the allocator, the tables and the dirty log as they were", () => {
    const { mmu, pt } = setup();
    const next = mmu.memory.allocFrame();
    mmu.memory.freeFrame(next);
    const before = digest(mmu);
    expect(() => pt.mapFresh(0x3fc000n, 0x5000n)).toThrow(MappingError); // 0x400000 is mapped
    expect(digest(mmu)).toEqual(before);
    expect(mmu.memory.allocFrame()).toBe(next);
    expect(mmu.tryTranslate(0x3fc000n).ok).toBe(false);
  });

  it("running out of frames part-way through the reservation gives every frame back", () => {
    const { mmu, pt } = setup();
    const snap = mmu.snapshot();
    mmu.maxPhyAddr = 40;
    const top = 1n << 40n;
    mmu.memory.setAllocBase(top - 0x2000n); // two frames left at the top, and two on the free list
    const a = mmu.memory.allocFrame();
    const b = mmu.memory.allocFrame();
    mmu.memory.freeFrame(a);
    mmu.memory.freeFrame(b);
    const before = digest(mmu);
    // Three new tables (PDPT, PD, PT) and four fresh pages: seven frames, four to be had.
    expect(() => pt.mapFresh(0x7f0000000000n, 0x4000n)).toThrow(MappingError);
    expect(digest(mmu)).toEqual(before);
    expect(snap.frames).toBe(0);
    // The free list kept its order, then the allocator continues where it was.
    expect(mmu.memory.allocFrame()).toBe(b);
    expect(mmu.memory.allocFrame()).toBe(a);
    expect(() => mmu.memory.allocFrame()).toThrow(MappingError); // NO_FRAME: the two at the top were taken by a and b
  });

  it("a map whose tables run out of frames part-way leaves no frame, no dirty-log entry and no snapshot record", () => {
    const { mmu, pt } = setup();
    mmu.maxPhyAddr = 40;
    mmu.memory.setAllocBase((1n << 40n) - 0x2000n); // two frames left
    mmu.dirtyLog.clear();
    const snap = mmu.snapshot();
    const before = digest(mmu);
    expect(() => pt.map(0x7f0000000000n, 0x300000n, 0x1000n)).toThrow(MappingError); // needs a PDPT, a PD and a PT
    expect(digest(mmu)).toEqual(before);
    expect(mmu.dirtyLog.frames()).toEqual([]);
    expect(snap.frames).toBe(0);
    expect(mmu.memory.allocFrame()).toBe((1n << 40n) - 0x2000n);
  });

  it("mapFresh takes frames in the order a page-by-page map did", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable(); // 0x100000
    const frames = pt.mapFresh(0x400000n, 0x3000n, { writable: true });
    // Page 0's frame, then its PDPT, PD and PT (the PDPT taking the last), then pages 1 and 2.
    expect(frames).toEqual([0x101000n, 0x105000n, 0x106000n]);
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    expect(mmu.probe(0x400000n)).toMatchObject({ ok: true, pa: 0x101000n });
    expect(mmu.memory.read(pt.root, 8) & ~0xfffn).toBe(0x104000n);
  });
});
