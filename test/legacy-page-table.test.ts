/**
 * The page-table builder for 32-bit paging (SDM Vol. 3A 4.3) and PAE paging
 * (4.4), pageMap / reverseLookup over those formats, and `x86mmu explain
 * --map` in both modes. Every entry value, table address and translation
 * below is worked out by hand in the comments from the SDM's entry formats
 * (Tables 4-4..4-11) and the allocator's documented order (frames handed out
 * upward from setAllocBase, skipping frames that hold data), not taken from
 * the code's output.
 */
import { describe, it, expect } from "vitest";
import { Mmu, PageFault, MappingError, ArgumentError, LegacyPageTable, PageTable } from "../src/index.js";
import { pageMap, reverseLookup, type MappedFlags } from "../src/inspect/page-map.js";
import { main } from "../src/cli/main.js";

// CR0: PE (bit 0), ET (4), WP (16), PG (31). CR4: PSE (4), PAE (5). EFER: NXE (11).
const CR0_PAGING = 0x80010011n;
const CR0_NOPAGING = 0x00000011n;
const CR4_PSE = 0x10n;
const CR4_PAE = 0x20n;
const EFER_NXE = 0x800n;

const rd4 = (mmu: Mmu, pa: bigint) => mmu.memory.read(pa, 4);
const rd8 = (mmu: Mmu, pa: bigint) => mmu.memory.read(pa, 8);

/** The error code of the #PF an access raises (or "no fault"). */
function pfCode(f: () => unknown): number | string {
  try {
    f();
  } catch (e) {
    if (e instanceof PageFault) return e.errorCode;
    throw e;
  }
  return "no fault";
}

function mappingCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MappingError) return e.code;
    throw e;
  }
  return "no error";
}

const flags = (f: Partial<MappedFlags> = {}): MappedFlags => ({
  writable: false, user: false, noExecute: false, global: false, pkey: 0,
  writeThrough: false, cacheDisable: false, pat: false, accessed: "none", dirty: "none", ...f,
});

/** A 32-bit tree with its page directory at 0x10000 (tables follow at 0x11000, ...). */
function tree32(maxPhyAddr = 52): { mmu: Mmu; pt: LegacyPageTable } {
  const mmu = new Mmu({ maxPhyAddr });
  mmu.memory.setAllocBase(0x10000n);
  const pt = mmu.createPageTable({ mode: "32-bit" });
  return { mmu, pt };
}

/** A PAE tree: the PDPT at 0x20000, its four page directories at 0x21000..0x24000, tables from 0x25000. */
function treePae(maxPhyAddr = 52): { mmu: Mmu; pt: LegacyPageTable } {
  const mmu = new Mmu({ maxPhyAddr });
  mmu.memory.setAllocBase(0x20000n);
  const pt = mmu.createPageTable({ mode: "pae" });
  return { mmu, pt };
}

describe("32-bit paging: the builder (SDM 4.3)", () => {
  it("maps, protects and unmaps 4 KiB pages with 4-byte PDEs and PTEs; the Mmu translates through them", () => {
    const { mmu, pt } = tree32();
    expect(pt).toBeInstanceOf(LegacyPageTable);
    expect(pt.mode).toBe("32-bit");
    expect(pt.root).toBe(0x10000n);
    pt.map(0x401000n, 0x5000n, 0x2000n, { flags: { writable: true, user: true } });
    // 0x401000: PDE index bits 31:22 = 1, PTE index bits 21:12 = 1. The page table is the
    // next frame, 0x11000: PDE 1 at 0x10000 + 1*4 = 0x10004 = 0x11000 | P | R/W | U/S = 0x11007.
    expect(rd4(mmu, 0x10004n)).toBe(0x11007n);
    // 4-byte entries: the neighbours stay zero.
    expect(rd4(mmu, 0x10000n)).toBe(0n);
    expect(rd4(mmu, 0x10008n)).toBe(0n);
    // PTE 1 at 0x11004 = 0x5000 | 7, PTE 2 at 0x11008 = 0x6000 | 7.
    expect(rd4(mmu, 0x11000n)).toBe(0n);
    expect(rd4(mmu, 0x11004n)).toBe(0x5007n);
    expect(rd4(mmu, 0x11008n)).toBe(0x6007n);
    expect(rd4(mmu, 0x1100cn)).toBe(0n);

    mmu.loadState({ cr0: CR0_PAGING, cr3: pt.root, cr4: CR4_PSE, efer: 0n });
    expect(mmu.pagingMode).toBe("32-bit");
    expect(mmu.translate(0x401123n, { op: "read", cpl: 3 })).toBe(0x5123n);
    mmu.write(0x402ff8n, 4, 0xabcdn, { cpl: 3 });
    expect(mmu.memory.read(0x6ff8n, 4)).toBe(0xabcdn);
    // The walk set A (bit 5) in the PDE, A and D (bit 6) in PTE 2.
    expect(rd4(mmu, 0x10004n)).toBe(0x11027n);
    expect(rd4(mmu, 0x11008n)).toBe(0x6067n);

    // protect replaces R/W and U/S: 0x6067 without R/W = 0x6065. The cached translation is invalidated.
    pt.protect(0x402000n, 0x1000n, { user: true });
    expect(rd4(mmu, 0x11008n)).toBe(0x6065n);
    expect(pfCode(() => mmu.write(0x402000n, 4, 1n, { cpl: 3 }))).toBe(0x7); // P | W | U

    // unmap clears the PTE; the tables stay.
    pt.unmap(0x401000n, 0x1000n);
    expect(rd4(mmu, 0x11004n)).toBe(0n);
    expect(rd4(mmu, 0x10004n)).toBe(0x11027n);
    expect(pfCode(() => mmu.translate(0x401000n, { op: "read", cpl: 3 }))).toBe(0x4); // U, not present
    expect(mmu.translate(0x402abcn, { op: "read", cpl: 3 })).toBe(0x6abcn);
  });

  it("maps a 4 MiB page above 4 GiB with the PSE-36 bits (MAXPHYADDR 40)", () => {
    const { mmu, pt } = tree32(40);
    pt.map(0xc0000000n, 0x1234400000n, 0x400000n, { size: "4M", flags: { writable: true, global: true } });
    // PDE index 0xc0000000 >> 22 = 0x300, at 0x10000 + 0x300*4 = 0x10c00. PA 0x12_3440_0000:
    // bits 31:22 stay (0x34400000), bits 39:32 = 0x12 go to PDE bits 20:13 (0x12 << 13 = 0x24000);
    // with G (0x100), PS (0x80), R/W, P: 0x34400000 | 0x24000 | 0x183 = 0x34424183.
    expect(rd4(mmu, 0x10c00n)).toBe(0x34424183n);
    // The highest 4 MiB frame below 2^40: bits 31:22 = 0x3ff, bits 39:32 = 0xff -> 0xffc00000 | 0x1fe000 | PS | P.
    pt.map(0xffc00000n, 0xffffc00000n, 0x400000n, { size: "4M" });
    expect(rd4(mmu, 0x10ffcn)).toBe(0xffdfe081n);
    // No page table was needed: only the page directory holds storage.
    expect(mmu.memory.frames()).toEqual([0x10000n]);

    mmu.loadState({ cr0: CR0_PAGING, cr3: pt.root, cr4: CR4_PSE, efer: 0n, maxPhyAddr: 40 });
    expect(mmu.translate(0xc0012345n)).toBe(0x1234412345n);
    expect(mmu.translate(0xffffffffn)).toBe(0xffffffffffn);
    // M = min(MAXPHYADDR, 40) = 40: a frame at 2^40 cannot be encoded.
    expect(() => pt.map(0x800000n, 1n << 40n, 0x400000n, { size: "4M" })).toThrow(ArgumentError);
  });

  it("limits PSE-36 frames by M = min(MAXPHYADDR, 40): 36 vs 40 vs 52", () => {
    // MAXPHYADDR 36: frames below 2^36. 0xf_ffc0_0000: bits 39:32 = 0x0f -> PDE bits 20:13 = 0x1e000.
    const a = tree32(36);
    a.pt.map(0xffc00000n, 0xfffc00000n, 0x400000n, { size: "4M" });
    expect(rd4(a.mmu, 0x10ffcn)).toBe(0xffc1e081n);
    // PA bit 36 would be PDE bit 17, reserved at M = 36 (bits 21:17): refused before anything is written.
    expect(() => a.pt.map(0x0n, 1n << 36n, 0x400000n, { size: "4M" })).toThrow(ArgumentError);
    expect(rd4(a.mmu, 0x10000n)).toBe(0n);
    a.mmu.loadState({ cr0: CR0_PAGING, cr3: a.pt.root, cr4: CR4_PSE, efer: 0n, maxPhyAddr: 36 });
    expect(a.mmu.translate(0xffc00abcn)).toBe(0xfffc00abcn);
    // The same PDE written by hand (0x00020081: PS, P, PDE bit 17 = PA bit 36): RSVD at M = 36 ...
    a.mmu.memory.write(0x10000n, 4, 0x20081n);
    expect(pfCode(() => a.mmu.translate(0x123n))).toBe(0x9); // P | RSVD
    // ... and a frame at 2^36 at MAXPHYADDR 40 (bits 21:21 reserved only).
    const b = tree32(40);
    b.pt.map(0x0n, 1n << 36n, 0x400000n, { size: "4M" });
    expect(rd4(b.mmu, 0x10000n)).toBe(0x20081n);
    b.mmu.loadState({ cr0: CR0_PAGING, cr3: b.pt.root, cr4: CR4_PSE, efer: 0n, maxPhyAddr: 40 });
    expect(b.mmu.translate(0x123n)).toBe(0x1000000123n);
    // MAXPHYADDR 52: still M = 40.
    const c = tree32(52);
    c.pt.map(0x0n, 0xffffc00000n, 0x400000n, { size: "4M" });
    expect(() => c.pt.map(0x400000n, 1n << 40n, 0x400000n, { size: "4M" })).toThrow(ArgumentError);
  });

  it("keeps large pages and page tables apart; a refused call changes nothing; a 4 MiB page may replace an empty page table", () => {
    const { mmu, pt } = tree32();
    pt.map(0x800000n, 0x5000n, 0x1000n); // PDE 2 (0x800000 >> 22) at 0x10008 -> PT 0x11000; PTE 0 = 0x5001
    pt.map(0xc00000n, 0x400000n, 0x400000n, { size: "4M" }); // PDE 3 at 0x1000c = 0x400000 | PS | P
    expect(rd4(mmu, 0x10008n)).toBe(0x11007n);
    expect(rd4(mmu, 0x11000n)).toBe(0x5001n);
    expect(rd4(mmu, 0x1000cn)).toBe(0x400081n);
    const tables = () => [mmu.memory.readBytes(0x10000n, 4096), mmu.memory.readBytes(0x11000n, 4096)];
    const before = tables();
    const frames = mmu.memory.frames();

    expect(mappingCode(() => pt.map(0xc01000n, 0x6000n, 0x1000n))).toBe("SPLITS_LARGE_PAGE");
    expect(mappingCode(() => pt.map(0x800000n, 0x800000n, 0x400000n, { size: "4M" }))).toBe("ALREADY_MAPPED");
    // 0x7ff000 (PDE 1, no table yet) is free, 0x800000 is not: no table is created for PDE 1.
    expect(mappingCode(() => pt.map(0x7ff000n, 0x7000n, 0x2000n))).toBe("ALREADY_MAPPED");
    expect(mappingCode(() => pt.unmap(0xc00000n, 0x200000n))).toBe("SPLITS_LARGE_PAGE");
    expect(mappingCode(() => pt.protect(0xe00000n, 0x1000n, { writable: true }))).toBe("SPLITS_LARGE_PAGE");
    expect(tables()).toEqual(before);
    expect(mmu.memory.frames()).toEqual(frames);

    // With its only page unmapped, the page table of PDE 2 gives way to a 4 MiB page and is freed.
    pt.unmap(0x800000n, 0x1000n);
    expect(rd4(mmu, 0x11000n)).toBe(0n);
    pt.map(0x800000n, 0x800000n, 0x400000n, { size: "4M", flags: { writable: true } });
    expect(rd4(mmu, 0x10008n)).toBe(0x800083n);
    expect(mmu.memory.frames()).toEqual([0x10000n]);
    // Whole large pages unmap and protect.
    pt.protect(0x800000n, 0x400000n, { user: true });
    expect(rd4(mmu, 0x10008n)).toBe(0x800085n);
    pt.unmap(0xc00000n, 0x400000n);
    expect(rd4(mmu, 0x1000cn)).toBe(0n);
  });

  it("refuses what a 32-bit entry cannot hold, writing nothing", () => {
    const { mmu, pt } = tree32();
    expect(() => pt.map(0x0n, 0x5000n, 0x1000n, { flags: { noExecute: true } })).toThrow(/no execute-disable/);
    expect(() => pt.map(0x0n, 0x5000n, 0x1000n, { flags: { pkey: 1 } })).toThrow(/protection keys/);
    expect(() => pt.map(0x0n, 0x0n, 0x200000n, { size: "2M" })).toThrow(ArgumentError);
    expect(() => pt.map(0xfffff000n, 0x5000n, 0x2000n)).toThrow(/4 GiB/); // linear addresses have 32 bits
    expect(() => pt.map(0x0n, 0x100000000n, 0x1000n)).toThrow(ArgumentError); // a PTE holds a 32-bit address
    expect(() => pt.map(0x0n, 0x5000n, 0x1000n, { flags: 0x1000n })).toThrow(ArgumentError); // bit 12 is address
    expect(mmu.memory.frames()).toEqual([0x10000n]);
    expect(mmu.memory.readBytes(0x10000n, 4096).every((x) => x === 0)).toBe(true);
  });
});

describe("PAE paging: the builder (SDM 4.4)", () => {
  it("creates the PDPT with four page directories; its PDPTEs have P and the address only", () => {
    const { mmu, pt } = treePae();
    expect(pt.mode).toBe("pae");
    expect(pt.root).toBe(0x20000n);
    // PDPTE i = page directory 0x21000 + i*0x1000 | P: no R/W, U/S or A (reserved in a PDPTE).
    for (let i = 0n; i < 4n; i++) expect(rd8(mmu, 0x20000n + i * 8n)).toBe(0x21001n + i * 0x1000n);
    // The PDPTE load accepts them (a reserved bit would #GP).
    mmu.loadState({ cr0: CR0_PAGING, cr3: pt.root, cr4: CR4_PAE, efer: EFER_NXE });
    expect(mmu.pdptes).toEqual([0x21001n, 0x22001n, 0x23001n, 0x24001n]);
  });

  it("maps 4 KiB and 2 MiB pages with 8-byte entries (XD, frames above 4 GiB); protect and unmap", () => {
    const { mmu, pt } = treePae();
    pt.map(0x80201000n, 0x123456000n, 0x1000n, { flags: { writable: true, noExecute: true } });
    // 0x80201000: PDPTE index bits 31:30 = 2 -> PD 0x23000; PDE index bits 29:21 = 0x401 & 0x1ff = 1,
    // at 0x23008 -> the new page table 0x25000 | P | R/W | U/S; PTE index bits 20:12 = 1, at 0x25008:
    // XD (bit 63) | 0x123456000 | R/W | P.
    expect(rd8(mmu, 0x23008n)).toBe(0x25007n);
    expect(rd8(mmu, 0x25008n)).toBe(0x8000000123456003n);
    pt.map(0x40000000n, 0x200000000n, 0x200000n, { size: "2M", flags: { user: true } });
    // 0x40000000: PDPTE 1 -> PD 0x22000, PDE 0: 0x200000000 | PS | U/S | P.
    expect(rd8(mmu, 0x22000n)).toBe(0x200000085n);

    mmu.loadState({ cr0: CR0_PAGING, cr3: pt.root, cr4: CR4_PAE, efer: EFER_NXE });
    expect(mmu.pagingMode).toBe("pae");
    expect(mmu.translate(0x80201abcn)).toBe(0x123456abcn);
    expect(pfCode(() => mmu.translate(0x80201000n, { op: "fetch" }))).toBe(0x11); // P | I/D: XD with NXE
    expect(mmu.translate(0x40123456n, { op: "read", cpl: 3 })).toBe(0x200123456n);
    expect(pfCode(() => mmu.write(0x40123456n, 4, 1n, { cpl: 3 }))).toBe(0x7);
    // The walks set A in the PTE; the PDPTEs (registers) stay as they were.
    expect(rd8(mmu, 0x25008n)).toBe(0x8000000123456023n);
    expect(rd8(mmu, 0x20010n)).toBe(0x23001n);

    // protect replaces R/W, U/S and XD: 0x123456000 | A | U/S | P.
    pt.protect(0x80201000n, 0x1000n, { user: true });
    expect(rd8(mmu, 0x25008n)).toBe(0x123456025n);
    expect(mmu.translate(0x80201000n, { op: "fetch", cpl: 3 })).toBe(0x123456000n);
    pt.unmap(0x40000000n, 0x200000n);
    expect(rd8(mmu, 0x22000n)).toBe(0n);
    expect(pfCode(() => mmu.translate(0x40123456n, { op: "read", cpl: 3 }))).toBe(0x4);
  });

  it("keeps 2 MiB pages whole and refuses what a PAE entry cannot hold", () => {
    const { mmu, pt } = treePae(36);
    pt.map(0x200000n, 0x400000n, 0x200000n, { size: "2M" }); // PDPTE 0 -> PD 0x21000, PDE 1 at 0x21008
    expect(rd8(mmu, 0x21008n)).toBe(0x400081n);
    const before = mmu.memory.readBytes(0x21000n, 4096);
    expect(mappingCode(() => pt.map(0x201000n, 0x5000n, 0x1000n))).toBe("SPLITS_LARGE_PAGE");
    expect(mappingCode(() => pt.unmap(0x300000n, 0x100000n))).toBe("SPLITS_LARGE_PAGE");
    expect(mappingCode(() => pt.map(0x200000n, 0x600000n, 0x200000n, { size: "2M" }))).toBe("ALREADY_MAPPED");
    expect(() => pt.map(0x0n, 0x5000n, 0x1000n, { flags: { pkey: 2 } })).toThrow(/protection keys/);
    expect(() => pt.map(0x0n, 0x0n, 0x400000n, { size: "4M" })).toThrow(ArgumentError);
    expect(() => pt.map(0x0n, 1n << 36n, 0x200000n, { size: "2M" })).toThrow(/2\^36/); // MAXPHYADDR 36
    expect(() => pt.map(0x0n, 0x5000n, 0x1000n, { flags: 1n << 59n })).toThrow(ArgumentError);
    expect(mmu.memory.readBytes(0x21000n, 4096)).toEqual(before);
    // PDPT + 4 PDs, no page table.
    expect(mmu.memory.frames()).toEqual([0x20000n, 0x21000n, 0x22000n, 0x23000n, 0x24000n]);
  });

  it("a PDPTE added to a PDPT taken over with activePageTable() is used from the next PDPTE load on", () => {
    const mmu = new Mmu();
    mmu.memory.setAllocBase(0x30000n);
    // An empty PDPT at 0x7020 (32-byte aligned, as CR3[31:5] allows).
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x7020n, cr4: CR4_PAE, efer: 0n });
    const pt = mmu.activePageTable();
    expect(pt).toBeInstanceOf(LegacyPageTable);
    expect(pt.root).toBe(0x7020n);
    (pt as LegacyPageTable).map(0xc0000000n, 0x9000n, 0x1000n);
    // PDPTE 3 at 0x7020 + 3*8 = 0x7038 = PD 0x30000 | P; PDE 0 = PT 0x31000 | 7; PTE 0 = 0x9000 | P.
    expect(rd8(mmu, 0x7038n)).toBe(0x30001n);
    expect(rd8(mmu, 0x30000n)).toBe(0x31007n);
    expect(rd8(mmu, 0x31000n)).toBe(0x9001n);
    // The register still holds what the load found: not present.
    expect(mmu.pdptes[3]).toBe(0n);
    expect(pfCode(() => mmu.translate(0xc0000000n))).toBe(0);
    mmu.reloadPdptes();
    expect(mmu.pdptes[3]).toBe(0x30001n);
    expect(mmu.translate(0xc0000123n)).toBe(0x9123n);
  });
});

describe("createPageTable and activePageTable: the modes", () => {
  it("takes mode 4 or 5 as levels, refuses a mode that is no format, and follows the paging mode", () => {
    const mmu = new Mmu();
    const five = mmu.createPageTable({ mode: 5 });
    expect(five).toBeInstanceOf(PageTable);
    expect(five.levels).toBe(5);
    expect(mmu.createPageTable({ mode: 4 }).levels).toBe(4);
    expect(() => mmu.createPageTable({ mode: 4, levels: 5 })).toThrow(ArgumentError);
    expect(() => mmu.createPageTable({ mode: "64-bit" as "pae" })).toThrow(ArgumentError);
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x5000n, cr4: 0n, efer: 0n });
    const active = mmu.activePageTable();
    expect(active).toBeInstanceOf(LegacyPageTable);
    expect((active as LegacyPageTable).mode).toBe("32-bit");
    expect(active.root).toBe(0x5000n);
  });
});

describe("pageMap and reverseLookup over 32-bit tables", () => {
  function setup() {
    const { mmu, pt } = tree32(40);
    pt.map(0x401000n, 0x5000n, 0x2000n, { flags: { writable: true, user: true } }); // PT 0x11000, PTEs at 0x11004, 0x11008
    pt.map(0xc0000000n, 0x1234400000n, 0x400000n, { size: "4M", flags: { writable: true, global: true } }); // PDE at 0x10c00
    // A 4 MiB PDE at index 0x3ff (0xffc00000) with bit 21 set: reserved.
    mmu.memory.write(0x10ffcn, 4, 0x200081n);
    mmu.loadState({ cr0: CR0_PAGING, cr3: pt.root, cr4: CR4_PSE, efer: 0n, maxPhyAddr: 40 });
    return { mmu, pt };
  }

  it("lists 4 KiB and 4 MiB ranges (PSE-36 frame), 32-bit linear addresses, and a reserved 4 MiB PDE as invalid", () => {
    const { mmu } = setup();
    const m = pageMap(mmu);
    expect(m.mode).toBe("32-bit");
    expect(m.levels).toBe(2);
    expect(m.root).toBe(0x10000n);
    expect(m.truncated).toBe(false);
    expect(m.ranges).toEqual([
      { va: 0x401000n, pa: 0x5000n, size: 0x2000n, pageSize: "4K", leafLevel: 1, pages: 2, entryAddr: 0x11004n, flags: flags({ writable: true, user: true }) },
      { va: 0xc0000000n, pa: 0x1234400000n, size: 0x400000n, pageSize: "4M", leafLevel: 2, pages: 1, entryAddr: 0x10c00n, flags: flags({ writable: true, global: true }) },
    ]);
    expect(m.invalid).toEqual([
      { va: 0xffc00000n, size: 0x400000n, level: 2, levelName: "PD", entryAddr: 0x10ffcn, entry: 0x200081n, reason: expect.stringContaining("4 MiB PDE") },
    ]);
  });

  it("finds the 4 KiB piece of a 4 MiB page that lands on a frame above 4 GiB", () => {
    const { mmu } = setup();
    // 0x12_3451_2345 - 0x12_3440_0000 = 0x112345: the piece at 0xc0000000 + 0x112000.
    const r = reverseLookup(mmu, 0x1234512345n);
    expect(r.frame).toBe(0x1234512000n);
    expect(r.ranges).toEqual([
      { va: 0xc0112000n, pa: 0x1234512000n, size: 0x1000n, pageSize: "4M", leafLevel: 2, pages: 1, entryAddr: 0x10c00n, flags: flags({ writable: true, global: true }) },
    ]);
    expect(reverseLookup(mmu, 0x6000n).ranges.map((x) => [x.va, x.entryAddr])).toEqual([[0x402000n, 0x11008n]]);
  });

  it("with CR4.PSE=0 reads PS as ignored: the 4 MiB PDEs then reference page tables (here empty)", () => {
    const { mmu } = setup();
    mmu.cr4 = 0n;
    // PDE 0x34424183 -> a page table at 0x34424000, PDE 0x200081 -> one at 0x200000: both read as zeros.
    const m = pageMap(mmu);
    expect(m.ranges.map((x) => x.va)).toEqual([0x401000n]);
    expect(m.invalid).toEqual([]);
  });
});

describe("pageMap and reverseLookup over PAE tables", () => {
  function setup() {
    const { mmu, pt } = treePae();
    pt.map(0x80201000n, 0x123456000n, 0x1000n, { flags: { writable: true, noExecute: true } }); // PTE at 0x25008
    pt.map(0x40000000n, 0x200000000n, 0x200000n, { size: "2M", flags: { user: true } }); // PDE at 0x22000
    mmu.loadState({ cr0: CR0_PAGING, cr3: pt.root, cr4: CR4_PAE, efer: EFER_NXE });
    return { mmu, pt };
  }

  it("walks from the PDPTE registers: 2 MiB and 4 KiB ranges with XD", () => {
    const { mmu } = setup();
    const m = pageMap(mmu);
    expect(m.mode).toBe("pae");
    expect(m.levels).toBe(3);
    expect(m.root).toBe(0x20000n);
    expect(m.ranges).toEqual([
      { va: 0x40000000n, pa: 0x200000000n, size: 0x200000n, pageSize: "2M", leafLevel: 2, pages: 1, entryAddr: 0x22000n, flags: flags({ user: true }) },
      { va: 0x80201000n, pa: 0x123456000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, entryAddr: 0x25008n, flags: flags({ writable: true, noExecute: true }) },
    ]);
    expect(m.invalid).toEqual([]);
    // 0x2_001f_f123 is 0x1ff123 into the 2 MiB page: the piece at 0x401ff000.
    expect(reverseLookup(mmu, 0x2001ff123n).ranges.map((x) => [x.va, x.pageSize, x.entryAddr])).toEqual([[0x401ff000n, "2M", 0x22000n]]);
  });

  it("the registers, not memory, are the top level; `root` reads the PDPT in memory (reserved PDPTE bits: invalid)", () => {
    const { mmu } = setup();
    mmu.memory.write(0x20010n, 8, 0n); // PDPTE 2 cleared in memory, not reloaded
    expect(pageMap(mmu).ranges.map((x) => x.va)).toEqual([0x40000000n, 0x80201000n]);
    expect(pageMap(mmu, { root: 0x20000n }).ranges.map((x) => x.va)).toEqual([0x40000000n]);
    // PDPTE 3 with R/W (bit 1), reserved in a PDPTE.
    mmu.memory.write(0x20018n, 8, 0x24003n);
    expect(pageMap(mmu, { root: 0x20000n }).invalid).toEqual([
      { va: 0xc0000000n, size: 0x40000000n, level: 3, levelName: "PDPT", entryAddr: 0x20018n, entry: 0x24003n, reason: expect.stringContaining("PDPTE") },
    ]);
    expect(() => pageMap(mmu, { root: 0x20010n })).toThrow(ArgumentError); // not 32-byte aligned
  });

  it("bits 62:52 are reserved in a PAE PTE (MAXPHYADDR 52)", () => {
    const { mmu } = setup();
    // PTE 2 of the page table at 0x25000 (0x80202000) with bit 52 set.
    mmu.memory.write(0x25010n, 8, (1n << 52n) | 0x7001n);
    expect(pageMap(mmu).invalid).toEqual([
      { va: 0x80202000n, size: 0x1000n, level: 1, levelName: "PT", entryAddr: 0x25010n, entry: (1n << 52n) | 0x7001n, reason: expect.stringContaining("MAXPHYADDR") },
    ]);
  });
});

describe("pageMap with paging off", () => {
  it("describes the tree in the format that setting CR0.PG would select", () => {
    const { mmu, pt } = tree32();
    pt.map(0x1000n, 0x5000n, 0x1000n); // PDE 0 at 0x10000 = 0x11007, PTE 1 at 0x11004 = 0x5001
    mmu.loadState({ cr0: CR0_NOPAGING, cr3: 0x10000n, cr4: 0n, efer: 0n });
    expect(mmu.pagingMode).toBe("off");
    expect(mmu.translate(0x1234n)).toBe(0x1234n); // linear = physical
    const m = pageMap(mmu);
    expect(m.mode).toBe("32-bit");
    expect(m.ranges).toEqual([
      { va: 0x1000n, pa: 0x5000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, entryAddr: 0x11004n, flags: flags() },
    ]);
    // With CR4.PAE=1 (EFER.LME=0) the format is PAE, PDPTEs read from memory at CR3: the page
    // directory's first 8 bytes (PDE 0 = 0x11007, PDE 1 = 0) read as PDPTE 0 = 0x11007, whose
    // R/W and U/S bits are reserved in a PDPTE.
    mmu.cr4 = CR4_PAE;
    const p = pageMap(mmu);
    expect(p.mode).toBe("pae");
    expect(p.ranges).toEqual([]);
    expect(p.invalid.map((x) => [x.level, x.entry, x.va])).toEqual([[3, 0x11007n, 0x0n]]);
    // An explicit mode reads it as 32-bit again.
    expect(pageMap(mmu, { mode: "32-bit" }).ranges.length).toBe(1);
  });
});

describe("x86mmu explain --map in the legacy modes", () => {
  function run(args: string[]): { status: number; out: string; err: string } {
    let out = "";
    let err = "";
    const status = main(args, (s) => void (out += s), (s) => void (err += s));
    return { status, out, err };
  }

  it("32-bit: a page directory and a page table from CR3 0x1000; a 4 MiB page above 4 GiB", () => {
    const r = run(["explain", "--no-color", "--mode", "32-bit", "--map", "0x400000=0x5000:rw,user", "--map", "0xc0000000=0x1234400000:rw,4m",
      "--access", "write:0x400010:4:cpl3:value=0xbeef", "--access", "read:0xc0012345"]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    const lines = r.out.split("\n");
    // The page directory at CR3 0x1000; the allocator's next frame, 0x2000, is the page table.
    expect(lines.slice(0, 4)).toEqual([
      "# 32-bit page tables built from CR3 0x1000 (tables at 0x1000, 0x2000)",
      "  CR0 0x80010033  CR4 0x10  EFER 0x0",
      "  map 0x400000           -> 0x5000       4 KiB, writable, user",
      "  map 0xc0000000         -> 0x1234400000 4 MiB, supervisor, writable",
    ]);
    const blocks = r.out.split("\n\n");
    // 0x400000: PDE 1 at 0x1000 + 4 = 0x1004 = 0x2007; PTE 0 at 0x2000 = 0x5007.
    expect(blocks[1]).toContain("  PDE[1]    table 0x1000, entry at 0x1004 = 0x2007");
    expect(blocks[1]).toContain("  PTE[0]    table 0x2000, entry at 0x2000 = 0x5007");
    expect(blocks[1]).toContain("  => physical address 0x5010");
    // 0xc0000000: PDE 0x300 = 768 at 0x1000 + 0xc00 = 0x1c00 = 0x34400000 | 0x12 << 13 | PS | R/W | P.
    expect(blocks[2]).toContain("  PDE[768]  table 0x1000, entry at 0x1c00 = 0x34424083");
    expect(blocks[2]).toContain("-> 4 MiB page at 0x1234400000");
    expect(blocks[2]).toContain("  => physical address 0x1234412345");
  });

  it("PAE: the PDPT at CR3 with four page directories (skipping the data frame 0x5000), 2 MiB pages, XD", () => {
    const r = run(["explain", "--no-color", "--mode", "pae", "--map", "0x400000=0x5000:rw,nx", "--map", "0x40000000=0x200000000:user,2m",
      "--access", "fetch:0x400000", "--access", "read:0x40123456:4:cpl3"]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    const lines = r.out.split("\n");
    // PDPT 0x1000; PDs 0x2000, 0x3000, 0x4000 and (0x5000 holds data) 0x6000; the page table for 0x400000: 0x7000.
    expect(lines.slice(0, 4)).toEqual([
      "# PAE page tables built from CR3 0x1000 (tables at 0x1000, 0x2000, 0x3000, 0x4000, 0x6000, 0x7000)",
      "  CR0 0x80010033  CR4 0x20  EFER 0x800",
      "  map 0x400000           -> 0x5000       4 KiB, supervisor, writable, execute-disable",
      "  map 0x40000000         -> 0x200000000  2 MiB, read-only, user",
    ]);
    const blocks = r.out.split("\n\n");
    // 0x400000: PDPTE 0 = 0x2001; PDE index 2 at 0x2010 = 0x7007; PTE 0 = XD | 0x5000 | R/W | P.
    expect(blocks[1]).toContain("  PDPTE[0]  table 0x1000, entry at 0x1000 = 0x2001");
    expect(blocks[1]).toContain("  PDE[2]    table 0x2000, entry at 0x2010 = 0x7007");
    expect(blocks[1]).toContain("  PTE[0]    table 0x7000, entry at 0x7000 = 0x8000000000005003");
    expect(blocks[1]).toContain("  => #PF, error code 0x11 (P|I/D), CR2 = 0x400000");
    // 0x40123456: PDPTE 1 at 0x1008 = 0x3001; PDE 0 at 0x3000 = 0x200000000 | PS | U/S | P.
    expect(blocks[2]).toContain("  PDPTE[1]  table 0x1000, entry at 0x1008 = 0x3001");
    expect(blocks[2]).toContain("  PDE[0]    table 0x3000, entry at 0x3000 = 0x200000085");
    expect(blocks[2]).toContain("  => physical address 0x200123456");
  });

  it("refuses a mode the registers contradict, a page size the mode lacks, and an unknown mode", () => {
    for (const [args, msg] of [
      [["--mode", "pae", "--cr4", "0x10", "--map", "0x0=0x5000", "--access", "read:0x0"], "disagrees with the registers"],
      [["--mode", "pae", "--map", "0x0=0x5000:4m", "--access", "read:0x0"], 'page size 4M is not "4K" or "2M"'],
      [["--mode", "32-bit", "--map", "0x0=0x5000:nx", "--access", "read:0x0"], "no execute-disable"],
      [["--mode", "16-bit", "--access", "read:0x0"], "--mode must be"],
    ] as [string[], string][]) {
      const r = run(["explain", ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.err).toContain(msg);
      expect(r.out).toBe("");
    }
  });
});
