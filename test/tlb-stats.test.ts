/**
 * TLB statistics and contents, with exact counts for a hand-made sequence.
 * The tables are written by hand with A (and the leaves' D) already set, so
 * every walk is the unrolled fast walk and reads one entry per level.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, encodeAccess, decodeBatchFault, PageFault } from "../src/index.js";
import { handMadeMmu } from "./helpers/hand-tables.js";

// The tables of helpers/hand-tables.ts: VA A = 0x400000 (PD index 2, PT index 0) → 0x10000; VA B = 0x401000 (PT index 1) → 0x11000.
const A = 0x400000n;
const B = 0x401000n;
const setup = (): Mmu => handMadeMmu();

describe("TLB statistics", () => {
  it("counts hits, misses, walks and entries read exactly", () => {
    const mmu = setup();
    const read4 = encodeAccess({ op: "read", size: 4 });
    expect(mmu.translate(A)).toBe(0x10000n); // miss: one walk of 4 entries
    expect(mmu.tlbStats()).toEqual({ hits: 0, misses: 1, walks: 1, entriesRead: 4, pscHits: 0 });
    mmu.translate(A + 0x10n); // hit
    mmu.loadNumber(Number(A) + 8, read4); // hit
    expect(mmu.tlbStats()).toEqual({ hits: 2, misses: 1, walks: 1, entriesRead: 4, pscHits: 0 });
    mmu.translate(B); // miss; same 2 MiB region as A: the PDE cache gives the PT, one entry read
    expect(mmu.tlbStats()).toEqual({ hits: 2, misses: 2, walks: 2, entriesRead: 5, pscHits: 1 });
    mmu.probe(A); // a walk that neither uses nor fills the TLB or the PDE cache: 4 entries
    expect(mmu.tlbStats()).toEqual({ hits: 2, misses: 2, walks: 3, entriesRead: 9, pscHits: 1 });
    mmu.translateBatch(new BigUint64Array([A, B, A + 0x20n])); // three hits, one call
    expect(mmu.tlbStats()).toEqual({ hits: 5, misses: 2, walks: 3, entriesRead: 9, pscHits: 1 });
    mmu.flushTlb(); // flushes the PDE cache too
    mmu.read(B, 8); // a full walk again
    expect(mmu.tlbStats()).toEqual({ hits: 5, misses: 3, walks: 4, entriesRead: 13, pscHits: 1 });
    mmu.resetTlbStats();
    expect(mmu.tlbStats()).toEqual({ hits: 0, misses: 0, walks: 0, entriesRead: 0, pscHits: 0 });
  });

  it("a batch's misses count as single misses do, and its walks use and fill the PDE cache", () => {
    const mmu = setup();
    // A: 4 entries read, the PDE cached; B: one entry from the PDE cache; A + 0x20: a hit.
    expect(mmu.translateBatch(new BigUint64Array([A, B, A + 0x20n]))).toEqual(new BigUint64Array([0x10000n, 0x11000n, 0x10020n]));
    expect(mmu.tlbStats()).toEqual({ hits: 1, misses: 2, walks: 2, entriesRead: 5, pscHits: 1 });
    // A stale PDE is used by a batch's walk too (SDM 4.10.3.2), until INVLPG.
    mmu.memory.write(0x5008n, 8, 0x21067n);
    mmu.memory.write(0x3010n, 8, 0x5027n);
    mmu.invlpg(B); // drops B's TLB entry; for this PCID, the PDE cache too
    expect(mmu.translateBatch(new BigUint64Array([B]))[0]).toBe(0x21000n);
    mmu.memory.write(0x3010n, 8, 0x4027n);
    mmu.flushTlb();
    mmu.resetTlbStats();
    expect(mmu.translateBatch(new BigUint64Array([A]))[0]).toBe(0x10000n);
    mmu.memory.write(0x3010n, 8, 0x5027n); // no invalidation: B's walk starts from the cached PDE
    expect(mmu.translateBatch(new BigUint64Array([B]))[0]).toBe(0x11000n);
    expect(mmu.tlbStats()).toEqual({ hits: 0, misses: 2, walks: 2, entriesRead: 5, pscHits: 1 });
  });

  it("a batch load's misses read through the fresh entry: written frames, never-written frames (zeros), and one written later", () => {
    const mmu = setup();
    mmu.memory.write(0x10008n, 8, 0x1122334455667788n);
    const read8 = encodeAccess({ op: "read", size: 8 });
    const b = mmu.batch(3);
    b.input.set([A + 8n, B, A + 8n]);
    expect(b.load(3, read8)).toBe(3);
    expect([...b.output]).toEqual([0x1122334455667788n, 0n, 0x1122334455667788n]);
    expect(mmu.tlbStats()).toEqual({ hits: 1, misses: 2, walks: 2, entriesRead: 5, pscHits: 1 });
    mmu.memory.write(0x11010n, 8, 0xabcdn); // B's frame gets storage after its TLB entry was filled
    b.input.set([B + 0x10n]);
    expect(b.load(1, read8)).toBe(1);
    expect(b.output[0]).toBe(0xabcdn);
  });

  it("a batch's misses on a 2 MiB page: three entries per walk (no PDE cache for a large page), each 4 KiB piece its own TLB entry; D, reserved bits 20:13 by the full walk", () => {
    const mmu = new Mmu();
    const w = (pa: bigint, v: bigint) => mmu.memory.write(pa, 8, v);
    w(0x1000n, 0x2027n);
    w(0x2000n, 0x3027n);
    w(0x3010n, 0x200000n | 0xa7n); // PD[2]: a 2 MiB page at 0x200000: P RW US A PS, D clear
    w(0x3018n, 0x600000n | 0x20e7n); // PD[3]: bit 13 set, reserved in a 2 MiB PDE
    mmu.loadState({ ...LONG_MODE, cr3: 0x1000n });
    mmu.resetTlbStats();
    expect([...mmu.translateBatch(new BigUint64Array([0x400010n, 0x401020n, 0x5ff008n, 0x400018n]))]).toEqual([0x200010n, 0x201020n, 0x3ff008n, 0x200018n]);
    expect(mmu.tlbStats()).toEqual({ hits: 1, misses: 3, walks: 3, entriesRead: 9, pscHits: 0 });
    const b = mmu.batch(2);
    b.input.set([0x400000n, 0x600000n]);
    expect(b.translate(2, encodeAccess({ op: "write", size: 8, cpl: 3 }))).toBe(1);
    expect(b.output[0]).toBe(0x200000n);
    expect(mmu.memory.read(0x3010n, 8)).toBe(0x200000n | 0xe7n); // D set by the write's walk
    expect(decodeBatchFault(b.output[1]!, 0x600000n)).toMatchObject({ errorCode: 0b1111 }); // P W U RSVD
  });

  it("translateStream serves hits from the TLB but walks misses without filling it (A and D still set); faults as translate reports them", () => {
    const mmu = setup();
    mmu.memory.write(0x4008n, 8, 0x11007n); // B's PTE: P RW US, A and D clear
    expect(mmu.translate(A)).toBe(0x10000n); // A in the TLB
    mmu.resetTlbStats();
    const b = mmu.batch(4);
    b.input.set([A + 8n, B + 0x10n, B + 0x18n, 0x402000n]);
    expect(b.translateStream(4, encodeAccess({ op: "write", size: 8 }))).toBe(1);
    expect([...b.output.slice(0, 3)]).toEqual([0x10008n, 0x11010n, 0x11018n]);
    expect(decodeBatchFault(b.output[3]!, 0x402000n)).toMatchObject({ errorCode: 0b010, cr2: 0x402000n }); // supervisor write, not present
    // The TLB holds A only (B was walked twice, filled never); B's PTE got A and D from the write's walk.
    expect(mmu.tlbEntries().map((e) => e.linear)).toEqual([A]);
    expect(mmu.memory.read(0x4008n, 8)).toBe(0x11067n);
    expect(mmu.tlbStats()).toMatchObject({ hits: 1, misses: 3 });
  });

  it("a batch miss that must set A or D, or faults, is decided by the full walk", () => {
    const mmu = setup();
    mmu.memory.write(0x4000n, 8, 0x10007n); // A's PTE: P RW US, A and D clear
    const write = encodeAccess({ op: "write", size: 8, cpl: 3 });
    const out = mmu.batch(4);
    out.input.set([A, B, 0x402000n]);
    expect(out.translate(3, write)).toBe(1); // 0x402000 has no PTE: one fault
    expect(mmu.memory.read(0x4000n, 8)).toBe(0x10067n); // A and D set by the write
    expect(out.output[0]).toBe(0x10000n);
    expect(out.output[1]).toBe(0x11000n);
    const fault = decodeBatchFault(out.output[2]!, 0x402000n);
    expect(fault).toBeInstanceOf(PageFault);
    expect(fault).toMatchObject({ errorCode: 0b110, cr2: 0x402000n }); // user write, not present
  });

  it("lists the entries with their tags, frame, page size and the kinds they serve", () => {
    const mmu = setup();
    mmu.translate(A);
    mmu.translate(B, { op: "write", cpl: 3 });
    const entries = mmu.tlbEntries().sort((x, y) => Number(x.linear - y.linear));
    expect(entries.map((e) => [e.linear, e.frame, e.pageSize, e.pcid, e.asid, e.global])).toEqual([
      [A, 0x10000n, 0x1000n, 0, 0, false],
      [B, 0x11000n, 0x1000n, 0, 0, false],
    ]);
    // User, writable, dirty pages with WP=1, no SMAP/SMEP: every mode reads, writes and fetches.
    expect(entries[0]!.read).toEqual(["cpl0", "cpl0+ac", "cpl3"]);
    expect(entries[0]!.write).toEqual(["cpl0", "cpl0+ac", "cpl3"]);
    mmu.invlpg(A);
    expect(mmu.tlbEntries().map((e) => e.linear)).toEqual([B]);
  });
});

describe("the PDE cache (paging-structure caches, SDM 4.10.3 and 4.10.4)", () => {
  // A second page table at 0x5000 maps VA B (index 1) to 0x21000.
  function withSecondTable(mmu: Mmu): void {
    mmu.memory.write(0x5008n, 8, 0x21067n);
  }

  it("a PDE changed in memory is not seen by a new walk in its region until INVLPG", () => {
    const mmu = setup();
    withSecondTable(mmu);
    expect(mmu.translate(A)).toBe(0x10000n); // caches PD[2] -> PT 0x4000
    mmu.memory.write(0x3010n, 8, 0x5027n); // PD[2] now -> PT 0x5000, no invalidation
    // B was never in the TLB, but its walk starts from the cached PDE: the old table.
    expect(mmu.translate(B)).toBe(0x11000n);
    expect(mmu.tlbStats().pscHits).toBe(1);
    mmu.invlpg(A); // INVLPG invalidates the paging-structure caches (for this PCID)
    mmu.invlpg(B);
    expect(mmu.translate(B)).toBe(0x21000n);
  });

  it("MOV to CR3 and a CR4 change (PGE toggled) invalidate it", () => {
    for (const invalidate of [(m: Mmu) => (m.cr3 = m.cr3), (m: Mmu) => (m.cr4 = m.cr4 ^ (1n << 7n))]) {
      const mmu = setup();
      withSecondTable(mmu);
      mmu.translate(A);
      mmu.memory.write(0x3010n, 8, 0x5027n);
      invalidate(mmu);
      expect(mmu.translate(B)).toBe(0x21000n);
    }
  });

  it("a page fault drops the faulting address's cached entries", () => {
    const mmu = setup();
    mmu.translate(A);
    mmu.memory.write(0x4010n, 8, 0n); // VA 0x402000: not present
    expect(mmu.tryTranslate(0x402000n).ok).toBe(false);
    withSecondTable(mmu);
    mmu.memory.write(0x3010n, 8, 0x5027n);
    expect(mmu.translate(B)).toBe(0x21000n);
  });
});
