/**
 * TLB geometry chosen at creation (issue 12): `new Mmu({ tlb: { entries, ways } })`.
 * The expected hits and misses follow by hand from the documented placement
 * (tlb.ts): page number mod sets picks the set (ASID 0: no salt); within a
 * set, ways are kept most recently used first, a hit moves its entry to the
 * front and a fill evicts the least recently used one. Invalidations
 * (SDM 4.10.4) reach every way.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, ArgumentError } from "../src/index.js";

const PAGE = 0x1000n;
const PCIDE = 1n << 17n;
const PGE = 1n << 7n;
const NOFLUSH = 1n << 63n;

/** Linear pages 0..63 mapped to frames 0x100000 + page (user, writable), tables from 0x1000; CR4.PCIDE and PGE on. */
function rig(tlb?: { entries: number; ways: number }): Mmu {
  const mmu = new Mmu(tlb ? { tlb } : undefined);
  const pt = mmu.createPageTable();
  pt.map(0n, 0x100000n, 64n * PAGE, { flags: { writable: true, user: true } });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root, cr4: LONG_MODE.cr4 | PCIDE | PGE });
  mmu.resetTlbStats();
  return mmu;
}

/** Translates page p (offset 0); returns "hit" or "miss" from the counters. */
function touch(mmu: Mmu, p: number): "hit" | "miss" {
  const before = mmu.tlbStats().misses;
  expect(mmu.translate(BigInt(p) * PAGE)).toBe(0x100000n + BigInt(p) * PAGE);
  return mmu.tlbStats().misses > before ? "miss" : "hit";
}

describe("TLB geometry", () => {
  it("defaults to 1024 direct-mapped entries and reports what it was given", () => {
    expect(new Mmu().tlbGeometry).toEqual({ entries: 1024, ways: 1, sets: 1024 });
    expect(new Mmu({ tlb: { entries: 64, ways: 4 } }).tlbGeometry).toEqual({ entries: 64, ways: 4, sets: 16 });
    expect(new Mmu({ tlb: { entries: 64, ways: 4 } }).tlbEntries()).toEqual([]);
  });

  it("refuses a geometry that is not powers of two in range, naming the field", () => {
    for (const [tlb, field] of [
      [{ entries: 8, ways: 1 }, "tlb.entries"],
      [{ entries: 24, ways: 1 }, "tlb.entries"],
      [{ entries: 16384, ways: 1 }, "tlb.entries"],
      [{ entries: 64, ways: 3 }, "tlb.ways"],
      [{ entries: 64, ways: 32 }, "tlb.ways"],
      [{ entries: 16, ways: 0 }, "tlb.ways"],
    ] as const) {
      expect(() => new Mmu({ tlb })).toThrow(ArgumentError);
      expect(() => new Mmu({ tlb })).toThrow(field);
    }
  });

  it("direct-mapped, 16 entries: pages 16 apart share a slot and evict each other", () => {
    const mmu = rig({ entries: 16, ways: 1 });
    expect([0, 16, 0, 16, 1].map((p) => touch(mmu, p))).toEqual(["miss", "miss", "miss", "miss", "miss"]);
    expect(touch(mmu, 1)).toBe("hit");
  });

  it("2-way, 16 entries (8 sets): two pages of a set both stay; a third evicts the least recently used", () => {
    const mmu = rig({ entries: 16, ways: 2 });
    // Set 0 holds pages 0, 8, 16, ... After 0, 8: [8, 0]; 0 hits: [0, 8]; 16 evicts 8: [16, 0]; 0 hits; 8 misses (evicts 16).
    expect([0, 8, 0, 16, 0, 8, 16].map((p) => touch(mmu, p))).toEqual(["miss", "miss", "hit", "miss", "hit", "miss", "miss"]);
    expect(mmu.tlbEntries().map((e) => e.linear).sort()).toEqual([8n * PAGE, 16n * PAGE]);
  });

  it("two PCIDs' entries for one page both stay with 2 ways (one slot evicts the other when direct-mapped); INVPCID and INVLPG reach every way", () => {
    for (const [ways, third] of [[1, "miss"], [2, "hit"]] as const) {
      const mmu = rig({ entries: 16, ways });
      const root = mmu.cr3 & ~0xfffn;
      mmu.cr3 = root | 1n;
      expect(touch(mmu, 3)).toBe("miss"); // PCID 1
      mmu.cr3 = root | 2n | NOFLUSH;
      expect(touch(mmu, 3)).toBe("miss"); // PCID 2: another tag
      mmu.cr3 = root | 1n | NOFLUSH;
      expect(touch(mmu, 3)).toBe(third); // PCID 1's entry: kept only if the set has room for both
    }
    const mmu = rig({ entries: 16, ways: 2 });
    const root = mmu.cr3 & ~0xfffn;
    mmu.cr3 = root | 1n;
    touch(mmu, 3);
    mmu.cr3 = root | 2n | NOFLUSH;
    touch(mmu, 3);
    mmu.invpcid(1, 1); // single context: PCID 1's entries only
    expect(touch(mmu, 3)).toBe("hit"); // PCID 2 (current) keeps its entry
    mmu.cr3 = root | 1n | NOFLUSH;
    expect(touch(mmu, 3)).toBe("miss");
    mmu.invlpg(3n * PAGE); // the page's entries in every way (x86mmu's INVLPG covers every PCID, as QEMU's does: SDM 4.10.4.1 allows more)
    expect(mmu.tlbEntries()).toEqual([]);
    expect(touch(mmu, 3)).toBe("miss");
    mmu.cr3 = root | 2n | NOFLUSH;
    expect(touch(mmu, 3)).toBe("miss");
  });

  it("a global entry in another way hits under any PCID, and survives MOV to CR3", () => {
    const mmu = rig({ entries: 16, ways: 4 });
    const pt = mmu.activePageTable();
    pt.unmap(5n * PAGE, PAGE);
    pt.map(5n * PAGE, 0x105000n, PAGE, { flags: { writable: true, user: true, global: true } });
    const root = mmu.cr3 & ~0xfffn;
    mmu.cr3 = root | 1n;
    expect(touch(mmu, 5)).toBe("miss");
    touch(mmu, 13); // same set (16 entries / 4 ways = 4 sets: 5 and 13 both in set 1): the global entry moves to way 1
    expect(mmu.tlbEntries().map((e) => [e.linear, e.pcid, e.global])).toEqual([[13n * PAGE, 1, false], [5n * PAGE, 1, true]]);
    mmu.cr3 = root | 2n; // PCID 2: PCID 1's entries do not serve it, a global one does (SDM 4.10.2.4)
    expect(touch(mmu, 5)).toBe("hit");
    expect(touch(mmu, 13)).toBe("miss");
  });

  it("keeps its geometry across snapshot and restore, which empty the TLB", () => {
    const mmu = rig({ entries: 32, ways: 4 });
    const snap = mmu.snapshot();
    touch(mmu, 1);
    mmu.restore(snap);
    expect(mmu.tlbGeometry).toEqual({ entries: 32, ways: 4, sets: 8 });
    expect(mmu.tlbEntries()).toEqual([]);
    mmu.resetTlbStats();
    expect([1, 9, 17, 25, 1].map((p) => touch(mmu, p))).toEqual(["miss", "miss", "miss", "miss", "hit"]); // 8 sets of 4: all four fit
  });

  it("a batch on a set-associative TLB counts as single calls do", () => {
    const single = rig({ entries: 16, ways: 2 });
    const batched = rig({ entries: 16, ways: 2 });
    const pages = [0, 8, 0, 16, 0, 8, 16, 3, 3];
    for (const p of pages) single.translate(BigInt(p) * PAGE);
    const out = batched.translateBatch(new BigUint64Array(pages.map((p) => BigInt(p) * PAGE)));
    expect([...out]).toEqual(pages.map((p) => 0x100000n + BigInt(p) * PAGE));
    expect(batched.tlbStats()).toEqual(single.tlbStats());
    expect(single.tlbStats().hits).toBe(3);
  });
});
