/**
 * A bulk copy's common misses (readBytes, readInto, writeBytes, readers and
 * writers; a 4 KiB or 2 MiB page whose flags are set, 4- or 5-level paging)
 * fill free TLB slots only: they never evict an entry (which entries a TLB
 * keeps is the processor's choice, SDM 4.10.2), so a copy's source and
 * destination that share TLB sets do not evict each other on every copy,
 * and a large copy does not flush the working set. A single access fills
 * as before, evicting the slot's entry. Counts by hand.
 */
import { describe, it, expect } from "vitest";
import type { Mmu } from "../src/index.js";
import { handMadeMmu } from "./helpers/hand-tables.js";

// The tables of helpers/hand-tables.ts (A = 0x400000 → 0x10000, B = 0x401000 → 0x11000), and PD [4] → PT 0x5000
// (C = 0x800000 → 0x12000). A and C share set 0 of the default direct-mapped TLB (page numbers 0x400 and 0x800,
// modulo 1024).
const A = 0x400000n;
const B = 0x401000n;
const C = 0x800000n;
const setup = (): Mmu =>
  handMadeMmu((w, mmu) => {
    w(0x3020n, 0x5027n);
    w(0x5000n, 0x12067n);
    mmu.memory.write(0x12000n, 8, 0x1122334455667788n);
  });
const pages = (mmu: Mmu) => mmu.tlbEntries().map((e) => e.linear);

describe("bulk copies and the TLB", () => {
  it("a copy's common miss fills a free slot but never evicts; a single access does", () => {
    const mmu = setup();
    expect(mmu.translate(A)).toBe(0x10000n);
    expect(pages(mmu)).toEqual([A]);
    // C's slot holds A: the copy walks (4 entries; the PDE cache is filled for C's region) and leaves A there.
    mmu.resetTlbStats();
    expect(mmu.readBytes(C, 8)).toEqual(new Uint8Array([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]));
    expect(pages(mmu)).toEqual([A]);
    expect(mmu.tlbStats()).toEqual({ hits: 0, misses: 1, walks: 1, entriesRead: 4, pscHits: 0 });
    // Again: still a miss (nothing was filled), now from the PDE cache.
    mmu.readInto(C, new Uint8Array(8));
    expect(pages(mmu)).toEqual([A]);
    expect(mmu.tlbStats()).toEqual({ hits: 0, misses: 2, walks: 2, entriesRead: 5, pscHits: 1 });
    // A single access fills its slot, evicting A.
    expect(mmu.translate(C)).toBe(0x12000n);
    expect(pages(mmu)).toEqual([C]);
    // A copy over A and B after a flush fills both (free slots), then hits them.
    mmu.flushTlb();
    mmu.resetTlbStats();
    mmu.readBytes(A + 0xff8n, 16);
    expect(pages(mmu).sort()).toEqual([A, B]);
    mmu.writeBytes(A, new Uint8Array(0x2000).fill(7));
    expect(mmu.tlbStats()).toEqual({ hits: 2, misses: 2, walks: 2, entriesRead: 5, pscHits: 1 });
    expect(mmu.read(B + 0xff8n, 8)).toBe(0x0707070707070707n);
  });
});
