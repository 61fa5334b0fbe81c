/**
 * 32-bit paging, PAE paging and paging off through the Mmu API, case by case
 * from the SDM (Vol. 3A 4.1.1 table 4-1, 4.3, 4.4, 4.6, 4.7, 4.10.4; Vol. 2
 * MOV to CR0/CR3/CR4). Every table word and every expected address below is
 * worked out by hand in the comments, not taken from the code's output.
 */
import { describe, it, expect } from "vitest";
import { Mmu, PageFault, GeneralProtection, RegisterError } from "../src/index.js";

// CR0: PE (bit 0), ET (4), WP (16), PG (31). CR4: PSE (4), PAE (5), PGE (7), SMEP (20).
const CR0_PAGING = 0x80010011n; // PG | WP | ET | PE
const CR0_NOPAGING = 0x00010011n;
const CR4_PSE = 0x10n;
const CR4_PAE = 0x20n;
const EFER_NXE = 0x800n;

/** Writes a 4-byte entry (32-bit paging). */
function put32(mmu: Mmu, pa: bigint, v: bigint): void {
  mmu.memory.write(pa, 4, v);
}
function put64(mmu: Mmu, pa: bigint, v: bigint): void {
  mmu.memory.write(pa, 8, v);
}

describe("mode selection (SDM table 4-1) and the MOV rules", () => {
  it("CR0.PG, CR4.PAE and EFER.LME select off, 32-bit, PAE and long mode", () => {
    const mmu = new Mmu();
    expect(mmu.pagingMode).toBe("off");
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: 0n, efer: 0n });
    expect(mmu.pagingMode).toBe("32-bit");
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: CR4_PAE, efer: 0n });
    expect(mmu.pagingMode).toBe("pae");
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: CR4_PAE, efer: 0xd00n });
    expect(mmu.pagingMode).toBe("4-level");
  });

  it("refuses what the processor refuses, changing nothing", () => {
    const mmu = new Mmu();
    const before = mmu.state;
    // PG without PE (MOV to CR0 #GP).
    expect(() => mmu.loadState({ cr0: 0x80000000n, cr3: 0n, cr4: 0n, efer: 0n })).toThrow(RegisterError);
    // LMA is the processor's report: set without PG and LME, or clear with both.
    expect(() => mmu.loadState({ cr0: CR0_PAGING, cr3: 0n, cr4: CR4_PAE, efer: 0x400n })).toThrow(/LMA/);
    expect(() => mmu.loadState({ cr0: CR0_PAGING, cr3: 0n, cr4: CR4_PAE, efer: 0x100n })).toThrow(/LMA/);
    // PCIDE can be set only in IA-32e mode.
    expect(() => mmu.loadState({ cr0: CR0_PAGING, cr3: 0n, cr4: CR4_PAE | (1n << 17n), efer: 0n })).toThrow(/PCIDE/);
    // Outside long mode CR3 is a 32-bit register.
    expect(() => mmu.loadState({ cr0: CR0_PAGING, cr3: 1n << 32n, cr4: 0n, efer: 0n })).toThrow(/32-bit/);
    expect(mmu.state).toEqual(before);
  });

  it("LME cannot change while paging is on; turning PG on with LME=1 enters IA-32e mode (LMA follows)", () => {
    const mmu = new Mmu();
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: CR4_PAE, efer: 0n });
    expect(() => (mmu.efer = 0x100n)).toThrow(RegisterError);
    mmu.cr0 = CR0_NOPAGING;
    mmu.efer = 0x100n; // LME
    expect(mmu.efer).toBe(0x100n);
    mmu.cr0 = CR0_PAGING;
    expect(mmu.efer).toBe(0x500n); // LMA set by the processor
    expect(mmu.pagingMode).toBe("4-level");
  });
});

describe("paging off: linear = physical", () => {
  it("translates every 32-bit address to itself at CPL 0 and 3, and wraps at 4 GiB", () => {
    const mmu = new Mmu();
    expect(mmu.translate(0x12345678n, { op: "write", cpl: 3 })).toBe(0x12345678n);
    // A 4-byte read at 0xfffffffe reads 0xfffffffe, 0xffffffff, then 0x0, 0x1.
    mmu.memory.write(0xfffffffen, 2, 0xbbaan);
    mmu.memory.write(0n, 2, 0xddccn);
    expect(mmu.read(0xfffffffen, 4)).toBe(0xddccbbaan);
    // A linear address needs 32 bits outside long mode.
    expect(() => mmu.translate(1n << 32n)).toThrow(GeneralProtection);
  });
});

describe("32-bit paging (SDM 4.3)", () => {
  // Page directory at 0x1000 (CR3), page table at 0x2000.
  // VA 0x00401234: PDE index 0x401234 >> 22 = 1 (at 0x1004), PTE index (0x401234 >> 12) & 0x3ff = 1 (at 0x2004).
  function setup(cr4 = 0n, efer = 0n): Mmu {
    const mmu = new Mmu();
    put32(mmu, 0x1004n, 0x2007n); // PDE: PT at 0x2000, P RW US
    put32(mmu, 0x2004n, 0x5007n); // PTE: frame 0x5000, P RW US
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4, efer });
    return mmu;
  }

  it("walks PDE and PTE, 4-byte entries, and sets A then D", () => {
    const mmu = setup();
    expect(mmu.translate(0x401234n, { op: "read", cpl: 3 })).toBe(0x5234n);
    expect(mmu.memory.read(0x1004n, 4)).toBe(0x2027n); // PDE A
    expect(mmu.memory.read(0x2004n, 4)).toBe(0x5027n); // PTE A
    mmu.write(0x401234n, 4, 0xcafen, { cpl: 3 });
    expect(mmu.memory.read(0x2004n, 4)).toBe(0x5067n); // PTE A|D
    // The neighbouring 4-byte entries (the other halves of the qwords) are untouched.
    expect(mmu.memory.read(0x1000n, 4)).toBe(0n);
    expect(mmu.memory.read(0x2000n, 4)).toBe(0n);
  });

  it("PS in a PDE is ignored without CR4.PSE (the PDE points to a page table)", () => {
    const mmu = new Mmu();
    put32(mmu, 0x1004n, 0x2087n); // PS=1 | P RW US, address 0x2000
    put32(mmu, 0x2004n, 0x5007n);
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: 0n, efer: 0n });
    expect(mmu.translate(0x401234n)).toBe(0x5234n);
  });

  it("a 4 MiB page with CR4.PSE; PSE-36 bits 20:13 give physical-address bits 39:32", () => {
    const mmu = new Mmu({ maxPhyAddr: 40 });
    // PDE 1 maps VA 0x00400000..0x007fffff. Bits 31:22 = 0x00c00000, bits 20:13 = 0x12 (PA bits 39:32).
    // Value: 0x00c00000 | (0x12 << 13) | PS | US | RW | P = 0x00c24087.
    put32(mmu, 0x1004n, 0x00c24087n);
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: CR4_PSE, efer: 0n, maxPhyAddr: 40 });
    // PA = 0x12_00000000 + 0x00c00000 + (0x401234 & 0x3fffff = 0x1234).
    expect(mmu.translate(0x401234n)).toBe(0x1200c01234n);
    // The other 2 MiB half of the same 4 MiB page.
    expect(mmu.translate(0x7ffffcn)).toBe(0x1200fffffcn);
  });

  it("PSE-36 bits at or above MAXPHYADDR, and bit 21, are reserved (RSVD)", () => {
    // MAXPHYADDR 36: M = 36, PA bits 35:32 come from PDE bits 16:13; bits 21:17 are reserved.
    const mmu = new Mmu({ maxPhyAddr: 36 });
    put32(mmu, 0x1004n, 0x00c20087n); // bit 17 set (would be PA bit 36)
    put32(mmu, 0x1008n, 0x00c02087n | 0x00400000n); // bit 13 set: PA bit 32, fine
    put32(mmu, 0x100cn, 0x00e00087n); // bit 21: always reserved
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: CR4_PSE, efer: 0n, maxPhyAddr: 36 });
    const f = mmu.tryTranslate(0x401234n);
    expect(f.ok).toBe(false);
    if (!f.ok) expect((f.fault as PageFault).errorCode).toBe(0x9); // P | RSVD
    // PDE 2 (VA 0x00800000): 0x00c00000 | PA bit 32 → 0x1_00c00000 + 0x1234... of VA 0x801234.
    expect(mmu.translate(0x801234n)).toBe(0x100c01234n);
    const g = mmu.tryTranslate(0xc01234n);
    expect(g.ok).toBe(false);
    if (!g.ok) expect((g.fault as PageFault).errorCode).toBe(0x9);
  });

  it("no XD: a fetch with EFER.NXE=1 faults without I/D unless SMEP is on", () => {
    const mmu = new Mmu();
    put32(mmu, 0x1004n, 0x2007n);
    put32(mmu, 0x2004n, 0x5005n); // read-only user page
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: 0n, efer: EFER_NXE });
    // A fetch is allowed (no XD in 32-bit entries); a user write faults with P|W|U, no I/D.
    expect(mmu.translate(0x401000n, { op: "fetch", cpl: 3 })).toBe(0x5000n);
    const w = mmu.tryTranslate(0x401000n, { op: "write", cpl: 3 });
    expect(!w.ok && (w.fault as PageFault).errorCode).toBe(0x7);
    // A fetch from a not-present page: I/D only with SMEP (SDM 4.7).
    const nx = mmu.tryTranslate(0x801000n, { op: "fetch" });
    expect(!nx.ok && (nx.fault as PageFault).errorCode).toBe(0x0);
    mmu.cr4 = 1n << 20n; // SMEP
    const sm = mmu.tryTranslate(0x801000n, { op: "fetch" });
    expect(!sm.ok && (sm.fault as PageFault).errorCode).toBe(0x10);
  });

  it("protection keys do nothing outside long mode", () => {
    const mmu = new Mmu();
    put32(mmu, 0x1004n, 0x2007n);
    put32(mmu, 0x2004n, 0x5007n);
    // CR4.PKE (bit 22) with PKRU denying key 0 everywhere.
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: 1n << 22n, efer: 0n, pkru: 0xffffffff });
    expect(mmu.translate(0x401234n, { op: "write", cpl: 3 })).toBe(0x5234n);
  });

  it("an access crossing 0xffffffff continues at linear 0; a fault there reports CR2 = 0", () => {
    const mmu = new Mmu();
    // PDE 0x3ff (at 0x1ffc) → PT 0x3000; PTE 0x3ff (at 0x3ffc) → frame 0x6000 (VA 0xfffff000).
    put32(mmu, 0x1ffcn, 0x3007n);
    put32(mmu, 0x3ffcn, 0x6007n);
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: 0n, efer: 0n });
    // Page 0 is not mapped: the read faults on the second page with CR2 = 0.
    const f = mmu.tryTranslate(0xfffffffen, { op: "read", size: 4 });
    expect(f.ok).toBe(false);
    if (!f.ok) {
      expect(f.fault).toBeInstanceOf(PageFault);
      expect((f.fault as PageFault).cr2).toBe(0n);
    }
    // Map page 0 (PDE 0 at 0x1000 → PT 0x4000; PTE 0 → frame 0x7000) and read across.
    put32(mmu, 0x1000n, 0x4007n);
    put32(mmu, 0x4000n, 0x7007n);
    mmu.memory.write(0x6ffen, 2, 0x2211n);
    mmu.memory.write(0x7000n, 2, 0x4433n);
    mmu.flushTlb();
    expect(mmu.read(0xfffffffen, 4)).toBe(0x44332211n);
  });

  it("INVLPG of an address in the second half of a 4 MiB page drops a translation cached from the first", () => {
    const mmu = new Mmu();
    put32(mmu, 0x1004n, 0x00c00087n); // 4 MiB page at 0x00c00000
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1000n, cr4: CR4_PSE, efer: 0n });
    expect(mmu.translate(0x400000n)).toBe(0xc00000n);
    put32(mmu, 0x1004n, 0x01000087n); // now 0x01000000, no invalidation yet
    expect(mmu.translate(0x400000n)).toBe(0xc00000n); // stale, as the TLB may be
    mmu.invlpg(0x7ff000n); // same 4 MiB page, other 2 MiB half
    expect(mmu.translate(0x400000n)).toBe(0x1000000n);
  });
});

describe("PAE paging (SDM 4.4)", () => {
  // PDPT at 0x1020 (CR3 bits 31:5; bits 4:0 ignored). VA 0x40201234: PDPTE index 1 (0x1028),
  // PDE index (0x40201234 >> 21) & 511 = 1 (at 0x3008), PTE index (>> 12) & 511 = 1 (at 0x4008).
  function setup(efer = 0n, maxPhyAddr = 52): Mmu {
    const mmu = new Mmu({ maxPhyAddr });
    put64(mmu, 0x1028n, 0x3001n); // PDPTE 1: PD at 0x3000, P only (R/W, U/S, A are reserved here)
    put64(mmu, 0x3008n, 0x4007n); // PDE: PT 0x4000
    put64(mmu, 0x4008n, 0x5007n); // PTE: frame 0x5000
    mmu.loadState({ cr0: CR0_PAGING, cr3: 0x1020n | 0x1fn, cr4: CR4_PAE, efer, maxPhyAddr });
    return mmu;
  }

  it("walks PDPTE register, PDE, PTE; PDPTEs give no rights and get no A flag", () => {
    const mmu = setup();
    expect(mmu.translate(0x40201234n, { op: "write", cpl: 3 })).toBe(0x5234n);
    expect(mmu.memory.read(0x1028n, 8)).toBe(0x3001n);
    expect(mmu.memory.read(0x3008n, 8)).toBe(0x4027n);
    expect(mmu.memory.read(0x4008n, 8)).toBe(0x5067n);
    expect(mmu.pdptes).toEqual([0n, 0x3001n, 0n, 0n]);
  });

  it("uses the PDPTE registers, not memory, until the next load", () => {
    const mmu = setup();
    put64(mmu, 0x6008n, 0x4007n); // a second PD at 0x6000 with the same PDE 1
    put64(mmu, 0x1028n, 0x6001n); // PDPTE 1 changed in memory only
    put64(mmu, 0x3008n, 0n); // the old PD's entry removed
    mmu.flushTlb();
    // The register still holds 0x3001: the walk reads PD 0x3000, whose PDE 1 is now 0 → #PF.
    const f = mmu.tryTranslate(0x40201234n);
    expect(!f.ok && (f.fault as PageFault).errorCode).toBe(0);
    mmu.cr3 = mmu.cr3; // MOV to CR3 reloads
    expect(mmu.pdptes[1]).toBe(0x6001n);
    expect(mmu.translate(0x40201234n)).toBe(0x5234n);
  });

  it("a reserved bit in a present PDPTE makes MOV to CR3 #GP (RegisterError PDPTE_RESERVED) and changes nothing", () => {
    const mmu = setup();
    put64(mmu, 0x1038n, 0x7003n); // PDPTE 3 with bit 1 (R/W): reserved in a PDPTE
    const before = mmu.state;
    let err: unknown;
    try {
      mmu.cr3 = 0x1020n;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RegisterError);
    expect((err as RegisterError).code).toBe("PDPTE_RESERVED");
    expect(mmu.state).toEqual(before);
    expect(mmu.pdptes).toEqual([0n, 0x3001n, 0n, 0n]);
    expect(mmu.translate(0x40201234n)).toBe(0x5234n);
    // A not-present PDPTE loads whatever its other bits.
    put64(mmu, 0x1038n, 0xfff0000000000006n);
    mmu.cr3 = 0x1020n;
    expect(mmu.pdptes[3]).toBe(0xfff0000000000006n);
  });

  it("PDPTE bits 63:MAXPHYADDR are reserved; bits 62:52 of a PDE or PTE are reserved too", () => {
    const mmu = setup(0n, 40);
    put64(mmu, 0x1030n, 0x100_0000_1001n); // PDPTE 2: address bit 40 (MAXPHYADDR 40)
    expect(() => mmu.reloadPdptes()).toThrow(RegisterError);
    put64(mmu, 0x1030n, 0n);
    put64(mmu, 0x4008n, 0x5007n | (1n << 52n));
    mmu.flushTlb();
    const f = mmu.tryTranslate(0x40201234n);
    expect(!f.ok && (f.fault as PageFault).errorCode).toBe(0x9);
  });

  it("XD: reserved with EFER.NXE=0, forbids fetches with NXE=1 (error code P|I/D)", () => {
    const mmu = setup();
    put64(mmu, 0x4008n, 0x5007n | (1n << 63n));
    mmu.flushTlb();
    const r = mmu.tryTranslate(0x40201234n);
    expect(!r.ok && (r.fault as PageFault).errorCode).toBe(0x9);
    mmu.efer = EFER_NXE;
    expect(mmu.translate(0x40201234n)).toBe(0x5234n);
    const f = mmu.tryTranslate(0x40201234n, { op: "fetch" });
    expect(!f.ok && (f.fault as PageFault).errorCode).toBe(0x11);
  });

  it("a 2 MiB page with PS in the PDE (CR4.PSE does not matter); bits 20:13 are reserved", () => {
    const mmu = setup();
    put64(mmu, 0x3010n, 0x00a00087n); // PDE 2 (VA 0x40400000): 2 MiB at 0x00a00000
    put64(mmu, 0x3018n, 0x00a02087n); // PDE 3: bit 13 set → RSVD
    mmu.flushTlb();
    expect(mmu.translate(0x40412345n)).toBe(0xa12345n);
    const f = mmu.tryTranslate(0x40612345n);
    expect(!f.ok && (f.fault as PageFault).errorCode).toBe(0x9);
  });

  it("snapshots keep the PDPTE registers, which memory need not hold", () => {
    const mmu = setup();
    put64(mmu, 0x1028n, 0n); // memory changed, register still 0x3001
    const snap = mmu.snapshot();
    mmu.cr3 = 0x1020n; // reload: PDPTE 1 not present now
    expect(mmu.pdptes[1]).toBe(0n);
    mmu.restore(snap);
    expect(mmu.pdptes[1]).toBe(0x3001n);
    expect(mmu.translate(0x40201234n)).toBe(0x5234n);
  });
});
