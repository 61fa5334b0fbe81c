/**
 * TLB semantics, observed from outside: a paging-structure entry is changed in
 * physical memory (mmu.memory.write) WITHOUT an invalidation, and the test
 * looks at whether the old translation is still used. Every expectation is
 * derived by hand from the Intel SDM Vol. 3A, 4.10 ("Caching Translation
 * Information"), never from the emulator's own output.
 *
 * Where the SDM only *permits* a stale translation (the processor may always
 * invalidate more than required, 4.10.4), the test relies on the documented
 * design of this TLB (assembly/tlb.ts, assembly/control.ts): it keeps every
 * translation until an invalidation the SDM prescribes, or a direct-mapped
 * eviction (the tests use addresses that do not collide: the TLB has 1024
 * slots indexed by linear-address bits 21:12).
 */
import { describe, expect, it } from "vitest";
import { Mmu, LONG_MODE, PageFault, ArgumentError, type PteFlags } from "../src/index.js";

// ---- Register bits (SDM 2.5, Figure 2-7) ----
const CR0_WP = 1n << 16n;
const CR4_PGE = 1n << 7n;
const CR4_PCIDE = 1n << 17n;
const CR4_SMEP = 1n << 20n;
const CR4_SMAP = 1n << 21n;
const CR4_PKE = 1n << 22n;
const CR4_PKS = 1n << 24n;
const CR3_NOFLUSH = 1n << 63n;

// ---- Entry bits (SDM 4.5, Tables 4-15..4-20) ----
const P = 1n;
const RW = 2n;
const US = 4n;
const A = 0x20n;
const D = 0x40n;
const G = 0x100n;
const ADDR = 0x000ffffffffff000n;

// ---- Page-fault error code (SDM 4.7) ----
const PF_P = 0x1;
const PF_W = 0x2;
const PF_U = 0x4;
const PF_ID = 0x10;
const PF_PK = 0x20;

// Data frames below 1 MiB (the frame allocator hands out page tables from 1 MiB up).
const PA1 = 0x20000n;
const PA2 = 0x21000n;
const PA3 = 0x22000n;
const PA4 = 0x23000n;
const PA5 = 0x24000n;
const PA6 = 0x25000n;

// Linear addresses in distinct TLB slots (bits 21:12 differ).
const VA = 0x400000n; // slot 0
const VB = 0x401000n; // slot 1
const VC = 0x402000n; // slot 2
const VG = 0x403000n; // slot 3

/**
 * Physical address of the entry that maps `va` at `level` (1 = PTE, 2 = PDE,
 * 3 = PDPTE), found by hand as in SDM 4.5 (Figure 4-8/4-9/4-10): each level
 * indexes its table with 9 bits of the address, bits 47:39, 38:30, 29:21, 20:12.
 */
function entryAddr(mmu: Mmu, va: bigint, level: number, levels = 4): bigint {
  let table = mmu.cr3 & ADDR;
  for (let l = levels; ; l--) {
    const ea = table + ((va >> BigInt(12 + 9 * (l - 1))) & 511n) * 8n;
    if (l === level) return ea;
    table = mmu.memory.read(ea, 8) & ADDR;
  }
}

/** Replaces the frame address of `va`'s leaf entry (keeping its flags), without any invalidation. */
function retarget(mmu: Mmu, va: bigint, pa: bigint, level = 1): void {
  const ea = entryAddr(mmu, va, level);
  const e = mmu.memory.read(ea, 8);
  mmu.memory.write(ea, 8, (e & ~ADDR) | pa);
}

/** Sets / clears bits of `va`'s leaf entry in memory, without any invalidation. */
function editPte(mmu: Mmu, va: bigint, set: bigint, clear = 0n, level = 1): void {
  const ea = entryAddr(mmu, va, level);
  mmu.memory.write(ea, 8, (mmu.memory.read(ea, 8) & ~clear) | set);
}

function pte(mmu: Mmu, va: bigint, level = 1): bigint {
  return mmu.memory.read(entryAddr(mmu, va, level), 8);
}

/** A long-mode MMU (4-level paging, WP, NXE) with 4 KiB pages mapped as given. */
function setup(maps: [bigint, bigint, PteFlags][], cr4Extra = 0n): Mmu {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  for (const [va, pa, flags] of maps) pt.map(va, pa, 0x1000n, { flags });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root, cr4: LONG_MODE.cr4 | cr4Extra });
  return mmu;
}

function pfCode(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof PageFault) return e.errorCode;
    throw e;
  }
  throw new Error("expected a page fault");
}

const W: PteFlags = { writable: true };

describe("INVLPG and stale translations (SDM 4.10.4.1, 4.10.4.3)", () => {
  it("keeps using a cached translation after the PTE changes, until INVLPG", () => {
    const mmu = setup([[VA, PA1, W]]);
    mmu.memory.write(PA1 + 0x10n, 8, 0x1111n);
    mmu.memory.write(PA2 + 0x10n, 8, 0x2222n);
    expect(mmu.translate(VA + 0x10n)).toBe(PA1 + 0x10n);
    retarget(mmu, VA, PA2);
    // 4.10.4.3: without invalidation the processor may keep using the old translation.
    expect(mmu.translate(VA + 0x10n)).toBe(PA1 + 0x10n);
    expect(mmu.read(VA + 0x10n, 8)).toBe(0x1111n);
    // 4.10.4.1: INVLPG invalidates the TLB entries for the page of the address.
    mmu.invlpg(VA + 0x123n);
    expect(mmu.translate(VA + 0x10n)).toBe(PA2 + 0x10n);
    expect(mmu.read(VA + 0x10n, 8)).toBe(0x2222n);
  });

  it("a page unmapped in memory (P=0) stays usable until INVLPG, then faults", () => {
    const mmu = setup([[VA, PA1, W]]);
    mmu.translate(VA);
    editPte(mmu, VA, 0n, P);
    expect(mmu.translate(VA)).toBe(PA1);
    mmu.invlpg(VA);
    // Not present, supervisor read: error code 0 (4.7).
    expect(pfCode(() => mmu.translate(VA))).toBe(0);
  });

  it("INVLPG on one 4 KiB piece of a 2 MiB page drops the whole large page (4.10.2.3)", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    const V2M = 0x40000000n; // 1 GiB: PML4 0, PDPT 1, PD 0
    pt.map(V2M, 0x80000000n, 0x200000n, { size: "2M", flags: W });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    expect(mmu.translate(V2M + 0x1000n)).toBe(0x80001000n);
    expect(mmu.translate(V2M + 0x5123n)).toBe(0x80005123n);
    expect(mmu.tryTranslate(V2M + 0x5123n)).toEqual({ ok: true, pa: 0x80005123n, level: 2 });
    retarget(mmu, V2M, 0x80400000n, 2);
    expect(mmu.translate(V2M + 0x1000n)).toBe(0x80001000n);
    expect(mmu.translate(V2M + 0x5123n)).toBe(0x80005123n);
    // INVLPG of an address in the page invalidates every TLB entry for that page,
    // however the processor fractured it (4.10.2.3, 4.10.4.1).
    mmu.invlpg(V2M + 0x1000n);
    expect(mmu.translate(V2M + 0x5123n)).toBe(0x80405123n);
    expect(mmu.translate(V2M + 0x1fffffn)).toBe(0x805fffffn);
  });

  it("INVLPG on an address inside a 1 GiB page drops the whole page", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    const V1G = 0x8000000000n; // PML4 index 1
    pt.map(V1G, 0x40000000n, 0x40000000n, { size: "1G", flags: W });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    expect(mmu.translate(V1G + 0x3ff0_0000n)).toBe(0x7ff00000n);
    expect(mmu.translate(V1G + 0x1000n)).toBe(0x40001000n);
    retarget(mmu, V1G, 0x80000000n, 3);
    expect(mmu.translate(V1G + 0x1000n)).toBe(0x40001000n);
    mmu.invlpg(V1G + 0x3ff0_0000n);
    expect(mmu.translate(V1G + 0x1000n)).toBe(0x80001000n);
  });

  it("INVLPG also drops a global translation (4.10.4.1)", () => {
    const mmu = setup([[VG, PA1, { writable: true, global: true }]], CR4_PGE);
    mmu.translate(VG);
    retarget(mmu, VG, PA2);
    expect(mmu.translate(VG)).toBe(PA1);
    mmu.invlpg(VG);
    expect(mmu.translate(VG)).toBe(PA2);
  });
});

describe("MOV to CR3 and global pages, CR4.PCIDE=0 (SDM 4.10.4.1, 4.10.2.4)", () => {
  it("drops non-global entries, keeps global ones (G=1, CR4.PGE=1)", () => {
    const mmu = setup([[VA, PA1, W], [VG, PA3, { writable: true, global: true }]], CR4_PGE);
    expect(mmu.translate(VA)).toBe(PA1);
    expect(mmu.translate(VG)).toBe(PA3);
    retarget(mmu, VA, PA2);
    retarget(mmu, VG, PA4);
    expect(mmu.translate(VA)).toBe(PA1);
    expect(mmu.translate(VG)).toBe(PA3);
    mmu.cr3 = mmu.cr3; // MOV to CR3, same value
    expect(mmu.translate(VA)).toBe(PA2);
    expect(mmu.translate(VG)).toBe(PA3); // global: survives
  });

  it("G=1 without CR4.PGE is not global: dropped by MOV to CR3", () => {
    const mmu = setup([[VG, PA3, { writable: true, global: true }]]);
    mmu.translate(VG);
    retarget(mmu, VG, PA4);
    expect(mmu.translate(VG)).toBe(PA3);
    mmu.cr3 = mmu.cr3;
    expect(mmu.translate(VG)).toBe(PA4);
  });

  it("a change of CR4.PGE (1 -> 0) drops global entries", () => {
    const mmu = setup([[VG, PA3, { writable: true, global: true }]], CR4_PGE);
    mmu.translate(VG);
    retarget(mmu, VG, PA4);
    mmu.cr3 = mmu.cr3;
    expect(mmu.translate(VG)).toBe(PA3);
    mmu.cr4 = mmu.cr4 & ~CR4_PGE;
    expect(mmu.translate(VG)).toBe(PA4);
  });

  it("a change of CR4.PGE (0 -> 1) drops every entry", () => {
    const mmu = setup([[VA, PA1, W]]);
    mmu.translate(VA);
    retarget(mmu, VA, PA2);
    expect(mmu.translate(VA)).toBe(PA1);
    mmu.cr4 = mmu.cr4 | CR4_PGE;
    expect(mmu.translate(VA)).toBe(PA2);
  });

  it("flushTlb() drops global entries too", () => {
    const mmu = setup([[VG, PA3, { writable: true, global: true }]], CR4_PGE);
    mmu.translate(VG);
    retarget(mmu, VG, PA4);
    mmu.flushTlb();
    expect(mmu.translate(VG)).toBe(PA4);
  });

  it("a CR4 write that changes no flushing bit keeps entries (here: the same value)", () => {
    // 4.10.4.1: MOV to CR4 invalidates when it changes PGE, PCIDE 1->0 (or SMEP/SMAP/PKE etc.);
    // writing the same value needs no invalidation. (Allowed either way by the SDM, but this
    // TLB flushes only on a change, assembly/control.ts.)
    const mmu = setup([[VA, PA1, W]]);
    mmu.translate(VA);
    retarget(mmu, VA, PA2);
    mmu.cr4 = mmu.cr4;
    expect(mmu.translate(VA)).toBe(PA1);
  });
});

describe("PCIDs (CR4.PCIDE=1; SDM 4.10.1, 4.10.4.1)", () => {
  /** Long mode with PCIDE=1 and CR3 = root | PCID 1. */
  function pcidSetup(maps: [bigint, bigint, PteFlags][], pge = false): { mmu: Mmu; root: bigint } {
    const mmu = setup(maps, pge ? CR4_PGE : 0n);
    const root = mmu.cr3;
    mmu.cr4 = mmu.cr4 | CR4_PCIDE; // CR3[11:0] = 0 here, as MOV to CR4 requires
    mmu.cr3 = root | 1n;
    return { mmu, root };
  }

  it("bit 63 of the CR3 source is not stored in CR3", () => {
    const { mmu, root } = pcidSetup([[VA, PA1, W]]);
    mmu.cr3 = CR3_NOFLUSH | root | 2n;
    expect(mmu.cr3).toBe(root | 2n);
    expect(mmu.state.cr3).toBe(root | 2n);
  });

  it("entries are tagged by PCID: PCID 1's stale entry is not used under PCID 2", () => {
    const { mmu, root } = pcidSetup([[VA, PA1, W]]);
    expect(mmu.translate(VA)).toBe(PA1);
    retarget(mmu, VA, PA2);
    mmu.cr3 = CR3_NOFLUSH | root | 2n;
    expect(mmu.translate(VA)).toBe(PA2);
  });

  it("switching to PCID 2 and back with bit 63 set keeps PCID 1's entries", () => {
    const { mmu, root } = pcidSetup([[VA, PA1, W], [VB, PA3, W]]);
    expect(mmu.translate(VA)).toBe(PA1);
    retarget(mmu, VA, PA2);
    mmu.cr3 = CR3_NOFLUSH | root | 2n;
    expect(mmu.translate(VB)).toBe(PA3); // some use of PCID 2, another slot
    mmu.cr3 = CR3_NOFLUSH | root | 1n;
    expect(mmu.translate(VA)).toBe(PA1);
  });

  it("MOV to CR3 with bit 63 clear invalidates only the new PCID's non-global entries", () => {
    const { mmu, root } = pcidSetup([[VA, PA1, W], [VB, PA3, W]]);
    mmu.translate(VA); // PCID 1
    mmu.cr3 = root | 2n; // bit 63 clear: flushes PCID 2, not PCID 1
    mmu.translate(VB); // PCID 2
    retarget(mmu, VA, PA2);
    retarget(mmu, VB, PA4);
    mmu.cr3 = CR3_NOFLUSH | root | 1n;
    expect(mmu.translate(VA)).toBe(PA1); // PCID 1 kept
    mmu.cr3 = root | 1n; // bit 63 clear: flushes PCID 1
    expect(mmu.translate(VA)).toBe(PA2);
    mmu.cr3 = CR3_NOFLUSH | root | 2n;
    expect(mmu.translate(VB)).toBe(PA3); // PCID 2 untouched by the flush of PCID 1
    mmu.cr3 = root | 2n;
    expect(mmu.translate(VB)).toBe(PA4);
  });

  it("MOV to CR3 with bit 63 clear keeps global entries; they are used under any PCID (4.10.2.4)", () => {
    const { mmu, root } = pcidSetup([[VG, PA3, { writable: true, global: true }]], true);
    expect(mmu.translate(VG)).toBe(PA3);
    retarget(mmu, VG, PA4);
    mmu.cr3 = root | 1n;
    expect(mmu.translate(VG)).toBe(PA3);
    mmu.cr3 = root | 2n;
    expect(mmu.translate(VG)).toBe(PA3);
  });

  it("clearing CR4.PCIDE (1 -> 0) invalidates every entry, global too (4.10.4.1)", () => {
    const { mmu } = pcidSetup([[VA, PA1, W], [VG, PA3, { writable: true, global: true }]], true);
    mmu.translate(VA);
    mmu.translate(VG);
    retarget(mmu, VA, PA2);
    retarget(mmu, VG, PA4);
    mmu.cr4 = mmu.cr4 & ~CR4_PCIDE;
    expect(mmu.translate(VA)).toBe(PA2);
    expect(mmu.translate(VG)).toBe(PA4);
  });
});

describe("INVPCID (SDM Vol. 2A INVPCID; Vol. 3A 4.10.4.1)", () => {
  /**
   * PCID 1 caches VA (non-global) and VG (global); PCID 2 caches VB; every
   * PTE is then changed in memory. Returns to PCID 1 (bit 63 set).
   */
  function invpcidSetup(): { mmu: Mmu; root: bigint } {
    const mmu = setup([[VA, PA1, W], [VB, PA3, W], [VC, PA6, W], [VG, PA5, { writable: true, global: true }]], CR4_PGE);
    const root = mmu.cr3;
    mmu.cr4 = mmu.cr4 | CR4_PCIDE;
    mmu.cr3 = root | 1n;
    expect(mmu.translate(VA)).toBe(PA1);
    expect(mmu.translate(VC)).toBe(PA6);
    expect(mmu.translate(VG)).toBe(PA5);
    mmu.cr3 = root | 2n;
    expect(mmu.translate(VB)).toBe(PA3);
    mmu.cr3 = CR3_NOFLUSH | root | 1n;
    retarget(mmu, VA, PA2);
    retarget(mmu, VB, PA4);
    retarget(mmu, VC, PA2);
    retarget(mmu, VG, PA4);
    return { mmu, root };
  }
  /** [VA, VC, VG] under PCID 1 and VB under PCID 2 (ends in PCID 1). */
  function observe(mmu: Mmu, root: bigint): bigint[] {
    const r = [mmu.translate(VA), mmu.translate(VC), mmu.translate(VG)];
    mmu.cr3 = CR3_NOFLUSH | root | 2n;
    r.push(mmu.translate(VB));
    mmu.cr3 = CR3_NOFLUSH | root | 1n;
    return r;
  }

  it("without INVPCID every cached entry is still used", () => {
    const { mmu, root } = invpcidSetup();
    expect(observe(mmu, root)).toEqual([PA1, PA6, PA5, PA3]);
  });

  it("type 0 invalidates one address of one PCID, not global translations", () => {
    const { mmu, root } = invpcidSetup();
    mmu.invpcid(0, 1, VA);
    mmu.invpcid(0, 1, VG); // global: type 0 leaves it (SDM: "except global translations")
    mmu.invpcid(0, 1, VB); // VB is cached for PCID 2 only
    expect(observe(mmu, root)).toEqual([PA2, PA6, PA5, PA3]);
  });

  it("type 0 for another PCID than the current one", () => {
    const { mmu, root } = invpcidSetup();
    mmu.invpcid(0, 2, VB);
    mmu.invpcid(0, 2, VA); // VA is cached for PCID 1 only
    expect(observe(mmu, root)).toEqual([PA1, PA6, PA5, PA4]);
  });

  it("type 1 invalidates one PCID's non-global entries", () => {
    const { mmu, root } = invpcidSetup();
    mmu.invpcid(1, 1);
    expect(observe(mmu, root)).toEqual([PA2, PA2, PA5, PA3]);
  });

  it("type 2 invalidates everything, global entries included", () => {
    const { mmu, root } = invpcidSetup();
    mmu.invpcid(2);
    expect(observe(mmu, root)).toEqual([PA2, PA2, PA4, PA4]);
  });

  it("type 3 invalidates everything except global entries", () => {
    const { mmu, root } = invpcidSetup();
    mmu.invpcid(3);
    expect(observe(mmu, root)).toEqual([PA2, PA2, PA5, PA4]);
  });

  it("refuses an unknown type or a PCID above 4095 (#GP)", () => {
    const mmu = setup([[VA, PA1, W]]);
    expect(() => mmu.invpcid(4 as 0, 0)).toThrow(ArgumentError);
    expect(() => mmu.invpcid(1, 4096)).toThrow(ArgumentError);
    expect(() => mmu.invpcid(1, -1)).toThrow(ArgumentError);
  });
});

describe("accessed/dirty flags through cached entries (SDM 4.8, 4.10.2.2)", () => {
  it("a write through a cached entry with D clear walks again and sets D in memory", () => {
    const mmu = setup([[VA, PA1, W]]);
    expect(pte(mmu, VA) & (A | D)).toBe(0n);
    mmu.read(VA, 8); // cached, A set, D clear
    expect(pte(mmu, VA) & (A | D)).toBe(A);
    mmu.write(VA, 8, 0x55n);
    expect(pte(mmu, VA) & (A | D)).toBe(A | D);
    expect(mmu.memory.read(PA1, 8)).toBe(0x55n);
  });

  it("the first write through a cached D=0 entry uses the current PTE (it walks)", () => {
    // The walk that sets D reads the entry again (4.8): it finds the new frame.
    const mmu = setup([[VA, PA1, W]]);
    mmu.read(VA, 8);
    retarget(mmu, VA, PA2);
    mmu.write(VA, 4, 0xabcdn);
    expect(mmu.memory.read(PA2, 4)).toBe(0xabcdn);
    expect(pte(mmu, VA) & D).toBe(D);
  });
});

describe("faults and cached entries (SDM 4.10.4.1, 4.10.4.2, 4.10.4.3)", () => {
  it("a read-only cached entry: after the PTE is made writable, a write succeeds or faults once, then succeeds", () => {
    const mmu = setup([[VA, PA1, {}]]); // read-only, CR0.WP=1
    mmu.read(VA, 8);
    expect(pfCode(() => mmu.write(VA, 8, 1n))).toBe(PF_P | PF_W);
    editPte(mmu, VA, RW);
    // 4.10.4.2: changing R/W 0 -> 1 without invalidation "may result in a spurious
    // page-fault exception"; a #PF invalidates the TLB entries of the faulting
    // address (4.10.4.1), so the retried write walks and succeeds.
    try {
      mmu.write(VA, 8, 0x77n);
    } catch (e) {
      expect(e).toBeInstanceOf(PageFault);
      mmu.write(VA, 8, 0x77n);
    }
    expect(mmu.memory.read(PA1, 8)).toBe(0x77n);
    expect(pte(mmu, VA) & (A | D | RW)).toBe(A | D | RW);
  });

  it("a user access to a cached supervisor entry faults; after U/S is set in memory it walks and succeeds (or faults once)", () => {
    const mmu = setup([[VA, PA1, W]]);
    mmu.read(VA, 8);
    expect(pfCode(() => mmu.read(VA, 8, { cpl: 3 }))).toBe(PF_P | PF_U);
    // U/S is checked in all levels; the builder's tables have U/S=1 (only the PTE needs it).
    editPte(mmu, VA, US);
    try {
      mmu.read(VA, 8, { cpl: 3 });
    } catch (e) {
      expect(e).toBeInstanceOf(PageFault);
    }
    expect(mmu.read(VA, 8, { cpl: 3 })).toBe(0n);
  });

  it("a page fault invalidates the cached translation of the faulting address (4.10.4.1)", () => {
    // PTE cached for reads (D clear); P cleared in memory without INVLPG. A write
    // cannot use the entry (D=0 needs a walk, 4.8) and faults. SDM 4.10.4.1: "a
    // page-fault exception resulting from an attempt to use a linear address will
    // invalidate any TLB entries that are for a page number corresponding to that
    // linear address and that are associated with the current PCID". Afterwards no
    // TLB entry for VA exists and the PTE is not present: a read must fault too.
    const mmu = setup([[VA, PA1, W]]);
    mmu.read(VA, 8);
    editPte(mmu, VA, 0n, P);
    expect(mmu.read(VA, 8)).toBe(0n); // stale entry still used, as permitted
    expect(() => mmu.write(VA, 8, 1n)).toThrow(PageFault);
    expect(pfCode(() => mmu.read(VA, 8))).toBe(0);
  });

  it("a page fault on a read-only cached entry invalidates it too", () => {
    // Entry cached read-only; the PTE is then made not present. The write faults
    // (either from the cached R/W=0, code P|W, or from the walk, code W); either way
    // the fault invalidates the entry (4.10.4.1), and the next read walks and faults.
    const mmu = setup([[VA, PA1, {}]]);
    mmu.read(VA, 8);
    editPte(mmu, VA, 0n, P);
    const code = pfCode(() => mmu.write(VA, 8, 1n));
    expect([PF_W, PF_P | PF_W]).toContain(code);
    expect(pfCode(() => mmu.read(VA, 8))).toBe(0);
  });

  it("a page fault in a 2 MiB page invalidates the other cached 4 KiB pieces of it", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    const V2M = 0x40000000n;
    pt.map(V2M, 0x80000000n, 0x200000n, { size: "2M", flags: W });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    mmu.read(V2M + 0x1000n, 8); // two pieces cached, D clear
    mmu.read(V2M + 0x5000n, 8);
    editPte(mmu, V2M, 0n, P, 2);
    expect(mmu.read(V2M + 0x5000n, 8)).toBe(0n); // stale piece, as permitted
    expect(pfCode(() => mmu.write(V2M + 0x1000n, 8, 1n))).toBe(PF_W); // walk: PDE not present
    expect(pfCode(() => mmu.read(V2M + 0x5000n, 8))).toBe(0);
  });
});

describe("rights checked on every access (SDM 4.6)", () => {
  it("a PKRU change takes effect at once for cached entries (4.6.2)", () => {
    const mmu = setup([[VA, PA1, { writable: true, user: true, pkey: 1 }]], CR4_PKE);
    mmu.write(VA, 8, 0x99n, { cpl: 3 }); // cached with A and D
    expect(mmu.read(VA, 8, { cpl: 3 })).toBe(0x99n);
    // PKRU bits 2i (AD) and 2i+1 (WD) for key i: key 1 -> bits 2, 3.
    mmu.pkru = 0x4; // AD1
    expect(pfCode(() => mmu.read(VA, 8, { cpl: 3 }))).toBe(PF_P | PF_U | PF_PK);
    expect(pfCode(() => mmu.read(VA, 8))).toBe(PF_P | PF_PK); // supervisor access to a user page: PKRU applies
    mmu.pkru = 0x8; // WD1: reads allowed, user writes denied
    expect(mmu.read(VA, 8, { cpl: 3 })).toBe(0x99n);
    expect(pfCode(() => mmu.write(VA, 8, 1n, { cpl: 3 }))).toBe(PF_P | PF_W | PF_U | PF_PK);
    // supervisor writes honour WD when CR0.WP=1
    expect(pfCode(() => mmu.write(VA, 8, 1n))).toBe(PF_P | PF_W | PF_PK);
    mmu.pkru = 0x30; // key 2 only: key 1 is free again
    mmu.write(VA, 8, 0x42n, { cpl: 3 });
    expect(mmu.memory.read(PA1, 8)).toBe(0x42n);
  });

  it("an IA32_PKRS change takes effect at once for supervisor pages (4.6.2)", () => {
    const mmu = setup([[VA, PA1, { writable: true, pkey: 3 }]], CR4_PKS);
    mmu.write(VA, 8, 5n);
    mmu.pkrs = 1 << 6; // AD3
    expect(pfCode(() => mmu.read(VA, 8))).toBe(PF_P | PF_PK);
    mmu.pkrs = 0;
    expect(mmu.read(VA, 8)).toBe(5n);
  });

  it("a CR0.WP change takes effect for a cached read-only entry (4.6.1)", () => {
    const mmu = setup([[VA, PA1, {}]]);
    mmu.read(VA, 8);
    expect(pfCode(() => mmu.write(VA, 8, 1n))).toBe(PF_P | PF_W);
    mmu.cr0 = mmu.cr0 & ~CR0_WP; // supervisor writes ignore R/W
    mmu.write(VA, 8, 3n);
    expect(mmu.memory.read(PA1, 8)).toBe(3n);
    mmu.cr0 = mmu.cr0 | CR0_WP;
    expect(pfCode(() => mmu.write(VA, 8, 4n))).toBe(PF_P | PF_W);
    // user writes honour R/W whatever WP is (the page is supervisor: U fault first)
    expect(mmu.memory.read(PA1, 8)).toBe(3n);
  });

  it("SMAP is decided per access by EFLAGS.AC, also through a cached entry (4.6.1)", () => {
    const mmu = setup([[VA, PA1, { writable: true, user: true }]], CR4_SMAP);
    mmu.read(VA, 8, { cpl: 3 }); // cached by a user access
    expect(pfCode(() => mmu.read(VA, 8))).toBe(PF_P);
    expect(mmu.read(VA, 8, { ac: true })).toBe(0n);
    expect(pfCode(() => mmu.read(VA, 8))).toBe(PF_P);
    expect(pfCode(() => mmu.write(VA, 8, 1n))).toBe(PF_P | PF_W);
    mmu.write(VA, 8, 2n, { ac: true });
    expect(pfCode(() => mmu.write(VA, 8, 3n))).toBe(PF_P | PF_W);
    expect(mmu.memory.read(PA1, 8)).toBe(2n);
    // clearing CR4.SMAP lifts it
    mmu.cr4 = mmu.cr4 & ~CR4_SMAP;
    expect(mmu.read(VA, 8)).toBe(2n);
  });

  it("SMEP: a supervisor fetch from a cached user page faults with I/D (4.6.1, 4.7)", () => {
    const mmu = setup([[VA, PA1, { writable: true, user: true }]]);
    mmu.memory.write(PA1, 1, 0x90);
    expect(mmu.fetch(VA)).toBe(0x90);
    expect(mmu.fetch(VA, { cpl: 3 })).toBe(0x90);
    mmu.cr4 = mmu.cr4 | CR4_SMEP;
    expect(pfCode(() => mmu.fetch(VA))).toBe(PF_P | PF_ID);
    expect(mmu.fetch(VA, { cpl: 3 })).toBe(0x90);
  });

  it("XD set in memory without INVLPG: fetches may still use the cached entry until INVLPG", () => {
    const mmu = setup([[VA, PA1, W]]);
    mmu.memory.write(PA1, 1, 0xc3);
    expect(mmu.fetch(VA)).toBe(0xc3);
    editPte(mmu, VA, 1n << 63n);
    expect(mmu.fetch(VA)).toBe(0xc3);
    mmu.invlpg(VA);
    expect(pfCode(() => mmu.fetch(VA))).toBe(PF_P | PF_ID);
  });
});

