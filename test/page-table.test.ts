/**
 * PageTable: map / unmap / protect / mapFresh over 4- and 5-level trees with
 * 4 KiB, 2 MiB and 1 GiB pages. The entries the builder writes are checked
 * against the formats of the Intel SDM Vol. 3A 4.5 (Tables 4-15 .. 4-20), and
 * the translations / faults they produce against 4.5-4.7, all by hand.
 */
import { describe, expect, it } from "vitest";
import { Mmu, LONG_MODE, PageFault, GeneralProtection, MappingError, ArgumentError, type PteFlags } from "../src/index.js";

const ADDR = 0x000ffffffffff000n;
const P = 1n;
const RW = 2n;
const US = 4n;
const PWT = 8n;
const PCD = 0x10n;
const A = 0x20n;
const D = 0x40n;
const PS = 0x80n;
const G = 0x100n;
const XD = 1n << 63n;

const PF_P = 0x1;
const PF_W = 0x2;
const PF_U = 0x4;
const PF_ID = 0x10;

const CR4_LA57 = 1n << 12n;

function longMode(levels: 4 | 5 = 4): { mmu: Mmu; pt: ReturnType<Mmu["createPageTable"]> } {
  const mmu = new Mmu();
  const pt = mmu.createPageTable({ levels });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root, cr4: LONG_MODE.cr4 | (levels === 5 ? CR4_LA57 : 0n) });
  return { mmu, pt };
}

/** Address of the entry mapping `va` at `level` (5 = PML5E .. 1 = PTE), by hand per SDM 4.5. */
function entryAddr(mmu: Mmu, root: bigint, va: bigint, level: number, levels = 4): bigint {
  let table = root;
  for (let l = levels; ; l--) {
    const ea = table + ((va >> BigInt(12 + 9 * (l - 1))) & 511n) * 8n;
    if (l === level) return ea;
    table = mmu.memory.read(ea, 8) & ADDR;
  }
}
const entry = (mmu: Mmu, root: bigint, va: bigint, level: number, levels = 4) => mmu.memory.read(entryAddr(mmu, root, va, level, levels), 8);

function pfCode(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof PageFault) return e.errorCode;
    throw e;
  }
  throw new Error("expected a page fault");
}
function mappingCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MappingError) return e.code;
    throw e;
  }
  throw new Error("expected a MappingError");
}

describe("map with 4 KiB pages (4-level)", () => {
  it("maps, translates, and creates tables with exactly P|R/W|U/S", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x20000n, 0x3000n, { flags: { writable: true, user: true } });
    // before any walk: no A flag anywhere
    for (const level of [4, 3, 2]) {
      const e = entry(mmu, pt.root, 0x400000n, level);
      expect(e & 0xfffn).toBe(P | RW | US);
      expect(e & XD).toBe(0n);
    }
    for (let i = 0n; i < 3n; i++) {
      expect(entry(mmu, pt.root, 0x400000n + i * 0x1000n, 1)).toBe((0x20000n + i * 0x1000n) | P | RW | US);
      expect(mmu.translate(0x400abcn + i * 0x1000n, { op: "write", cpl: 3 })).toBe(0x20abcn + i * 0x1000n);
    }
    expect(mmu.tryTranslate(0x401000n)).toEqual({ ok: true, pa: 0x21000n, level: 1 });
    expect(pfCode(() => mmu.translate(0x403000n))).toBe(0);
    expect(pfCode(() => mmu.translate(0x3ff000n))).toBe(0);
    // root + PDPT + PD + PT
    expect(mmu.memory.framesInUse).toBe(4);
  });

  it("writes the leaf bits the flags ask for (Table 4-20)", () => {
    const { mmu, pt } = longMode();
    const flags: PteFlags = { writable: true, user: true, noExecute: true, global: true, pkey: 5, accessed: true, dirty: true, writeThrough: true, cacheDisable: true };
    pt.map(0x400000n, 0x20000n, 0x1000n, { flags });
    expect(entry(mmu, pt.root, 0x400000n, 1)).toBe(0x20000n | P | RW | US | PWT | PCD | A | D | G | XD | (5n << 59n));
    pt.map(0x401000n, 0x21000n, 0x1000n); // default: read-only, supervisor
    expect(entry(mmu, pt.root, 0x401000n, 1)).toBe(0x21000n | P);
    pt.map(0x402000n, 0x22000n, 0x1000n, { flags: RW | A }); // raw bits: P is added
    expect(entry(mmu, pt.root, 0x402000n, 1)).toBe(0x22000n | P | RW | A);
  });

  it("maps a range that crosses page-table, directory and PML4 boundaries", () => {
    const { mmu, pt } = longMode();
    const va = 0x7fffffffe000n; // the last 2 pages of the lower half (PML4 index 255)
    pt.map(va, 0x30000n, 0x2000n, { flags: { writable: true } });
    expect(mmu.translate(0x7fffffffffffn)).toBe(0x31fffn);
    const vb = 0x7fffffe000n; // last 2 pages of PML4 slot 0 + first 2 of slot 1
    pt.map(vb, 0x40000n, 0x4000n, { flags: { writable: true } });
    expect(mmu.translate(vb)).toBe(0x40000n);
    expect(mmu.translate(0x8000000000n)).toBe(0x42000n);
    expect(mmu.translate(0x8000001fffn)).toBe(0x43fffn);
    // different PML4 entries for 0x7fffffe000 (index 0) and 0x8000000000 (index 1)
    expect(entryAddr(mmu, pt.root, 0x8000000000n, 4)).toBe(pt.root + 8n);
    expect(entryAddr(mmu, pt.root, vb, 4)).toBe(pt.root);
  });
});

describe("large pages", () => {
  it("2 MiB pages: PS=1 in the PDE, 21-bit offset (Table 4-18)", () => {
    const { mmu, pt } = longMode();
    pt.map(0x40000000n, 0x80000000n, 0x400000n, { size: "2M", flags: { writable: true } });
    expect(entry(mmu, pt.root, 0x40000000n, 2)).toBe(0x80000000n | P | RW | PS);
    expect(entry(mmu, pt.root, 0x40200000n, 2)).toBe(0x80200000n | P | RW | PS);
    expect(mmu.tryTranslate(0x40212345n)).toEqual({ ok: true, pa: 0x80212345n, level: 2 });
    expect(mmu.translate(0x403fffffn)).toBe(0x803fffffn);
    expect(pfCode(() => mmu.translate(0x40400000n))).toBe(0);
    expect(mmu.memory.framesInUse).toBe(3); // root, PDPT, PD
  });

  it("1 GiB pages: PS=1 in the PDPTE, 30-bit offset (Table 4-16)", () => {
    const { mmu, pt } = longMode();
    pt.map(0x8000000000n, 0x40000000n, 0x80000000n, { size: "1G", flags: { writable: true, user: true } });
    expect(entry(mmu, pt.root, 0x8000000000n, 3)).toBe(0x40000000n | P | RW | US | PS);
    expect(mmu.tryTranslate(0x8040012345n, { op: "read", cpl: 3 })).toEqual({ ok: true, pa: 0x80012345n, level: 3 });
    expect(mmu.translate(0x807fffffffn)).toBe(0xbfffffffn);
    expect(mmu.memory.framesInUse).toBe(2); // root, PDPT
  });

  it("refuses misaligned large-page mappings", () => {
    const { pt } = longMode();
    expect(() => pt.map(0x40001000n, 0x80000000n, 0x200000n, { size: "2M" })).toThrow(ArgumentError);
    expect(() => pt.map(0x40000000n, 0x80001000n, 0x200000n, { size: "2M" })).toThrow(ArgumentError);
    expect(() => pt.map(0x40000000n, 0x80000000n, 0x201000n, { size: "2M" })).toThrow(ArgumentError);
    expect(() => pt.map(0x40000000n, 0x20000000n, 0x40000000n, { size: "1G" })).toThrow(ArgumentError);
  });
});

describe("5-level paging (CR4.LA57=1)", () => {
  it("maps 4K, 2M and 1G pages through a PML5", () => {
    const { mmu, pt } = longMode(5);
    const v4k = 0x0001234567890000n; // PML5 index (bits 56:48) = 1
    pt.map(v4k, 0x20000n, 0x1000n, { flags: { writable: true } });
    expect(mmu.memory.read(pt.root + 1n * 8n, 8) & 0xfffn).toBe(P | RW | US);
    expect(mmu.translate(v4k + 0x123n)).toBe(0x20123n);
    const vk = 0xff00000000000000n; // canonical for 57 bits; PML5 index 256
    pt.map(vk, 0x200000n, 0x200000n, { size: "2M", flags: { writable: true } });
    expect(mmu.memory.read(pt.root + 256n * 8n, 8) & 0xfffn).toBe(P | RW | US);
    expect(mmu.tryTranslate(vk + 0x1abcden)).toEqual({ ok: true, pa: 0x3abcden, level: 2 });
    const vg = 0x00ffffffc0000000n; // highest 1 GiB of the lower half
    pt.map(vg, 0x40000000n, 0x40000000n, { size: "1G" });
    expect(mmu.translate(0x00ffffffffffffffn)).toBe(0x7fffffffn);
    expect(entry(mmu, pt.root, v4k, 1, 5)).toBe(0x20000n | P | RW | A); // A: it was translated above
  });

  it("canonical means bits 63:57 equal bit 56 (SDM 4.5): 2^47 is fine, 2^56 is not", () => {
    const { mmu, pt } = longMode(5);
    expect(pfCode(() => mmu.translate(0x0000800000000000n))).toBe(0); // canonical, not mapped: #PF
    expect(() => mmu.translate(0x0100000000000000n)).toThrow(GeneralProtection);
    expect(() => pt.map(0x0100000000000000n, 0x20000n, 0x1000n)).toThrow(ArgumentError);
    pt.map(0x0000800000000000n, 0x20000n, 0x1000n);
    expect(mmu.translate(0x0000800000000010n)).toBe(0x20010n);
  });

  it("a 4-level table refuses addresses that are only canonical with 57 bits", () => {
    const { pt } = longMode(4);
    expect(() => pt.map(0xff00000000000000n, 0x20000n, 0x1000n)).toThrow(ArgumentError);
    expect(() => pt.map(0x0000800000000000n, 0x20000n, 0x1000n)).toThrow(ArgumentError);
    // a range whose end is not canonical
    expect(() => pt.map(0x7ffffffff000n, 0x20000n, 0x2000n)).toThrow(ArgumentError);
  });
});

describe("refusals change nothing", () => {
  it("ALREADY_MAPPED: mapping over a mapped page maps none of the range", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x20000n, 0x2000n, { flags: { writable: true } });
    const frames = mmu.memory.framesInUse;
    const ptes = [0x3fe000n, 0x3ff000n, 0x400000n, 0x401000n].map((v) => entry(mmu, pt.root, v, 1));
    expect(mappingCode(() => pt.map(0x3fe000n, 0x50000n, 0x4000n, { flags: { writable: true } }))).toBe("ALREADY_MAPPED");
    expect([0x3fe000n, 0x3ff000n, 0x400000n, 0x401000n].map((v) => entry(mmu, pt.root, v, 1))).toEqual(ptes);
    expect(pfCode(() => mmu.translate(0x3fe000n))).toBe(0);
    expect(mmu.translate(0x400000n)).toBe(0x20000n);
    expect(mmu.memory.framesInUse).toBe(frames);
  });

  it("ALREADY_MAPPED in the last page of a range whose start needs new tables: no table is created", () => {
    const { mmu, pt } = longMode();
    pt.map(0x8000000000n, 0x20000n, 0x1000n); // PML4 slot 1
    const frames = mmu.memory.framesInUse;
    const pml4e0 = mmu.memory.read(pt.root, 8);
    expect(mappingCode(() => pt.map(0x7ffffff000n, 0x50000n, 0x2000n))).toBe("ALREADY_MAPPED");
    expect(mmu.memory.read(pt.root, 8)).toBe(pml4e0); // PML4 slot 0 still empty
    expect(mmu.memory.framesInUse).toBe(frames);
  });

  it("a 4 KiB mapping inside a 2 MiB page is refused", () => {
    const { mmu, pt } = longMode();
    pt.map(0x40000000n, 0x80000000n, 0x200000n, { size: "2M" });
    const pde = entry(mmu, pt.root, 0x40000000n, 2);
    const frames = mmu.memory.framesInUse;
    expect(["ALREADY_MAPPED", "SPLITS_LARGE_PAGE"]).toContain(mappingCode(() => pt.map(0x40001000n, 0x20000n, 0x1000n)));
    expect(entry(mmu, pt.root, 0x40000000n, 2)).toBe(pde);
    expect(mmu.memory.framesInUse).toBe(frames);
    expect(mmu.translate(0x40001000n)).toBe(0x80001000n);
  });

  it("a 2 MiB mapping over 4 KiB mappings is refused", () => {
    const { mmu, pt } = longMode();
    pt.map(0x40003000n, 0x20000n, 0x1000n);
    expect(["ALREADY_MAPPED", "SPLITS_LARGE_PAGE"]).toContain(mappingCode(() => pt.map(0x40000000n, 0x80000000n, 0x200000n, { size: "2M" })));
    expect(mmu.translate(0x40003000n)).toBe(0x20000n);
    expect(pfCode(() => mmu.translate(0x40000000n))).toBe(0);
  });

  it("unmap of part of a 2 MiB page is refused (SPLITS_LARGE_PAGE)", () => {
    const { mmu, pt } = longMode();
    pt.map(0x40000000n, 0x80000000n, 0x200000n, { size: "2M", flags: { writable: true } });
    const pde = entry(mmu, pt.root, 0x40000000n, 2);
    expect(mappingCode(() => pt.unmap(0x40001000n, 0x1000n))).toBe("SPLITS_LARGE_PAGE");
    expect(mappingCode(() => pt.unmap(0x40000000n, 0x1ff000n))).toBe("SPLITS_LARGE_PAGE");
    expect(mappingCode(() => pt.unmap(0x3ffff000n, 0x2000n))).toBe("SPLITS_LARGE_PAGE");
    expect(entry(mmu, pt.root, 0x40000000n, 2)).toBe(pde);
    expect(mmu.translate(0x40001000n)).toBe(0x80001000n);
    // the whole page can go
    pt.unmap(0x40000000n, 0x200000n);
    expect(entry(mmu, pt.root, 0x40000000n, 2) & P).toBe(0n);
    expect(pfCode(() => mmu.translate(0x40001000n))).toBe(0);
  });

  it("unmap and protect of part of a 1 GiB page are refused", () => {
    const { mmu, pt } = longMode();
    pt.map(0x40000000n, 0x40000000n, 0x40000000n, { size: "1G", flags: { writable: true } });
    expect(mappingCode(() => pt.unmap(0x40200000n, 0x200000n))).toBe("SPLITS_LARGE_PAGE");
    expect(mappingCode(() => pt.protect(0x40000000n, 0x1000n, {}))).toBe("SPLITS_LARGE_PAGE");
    mmu.write(0x40000000n, 8, 1n);
    expect(mmu.memory.read(0x40000000n, 8)).toBe(1n);
  });
});

describe("unmap", () => {
  it("removes exactly the pages in the range and invalidates their translations", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x20000n, 0x5000n, { flags: { writable: true } });
    for (let i = 0n; i < 5n; i++) mmu.translate(0x400000n + i * 0x1000n); // cached in the TLB
    pt.unmap(0x401000n, 0x3000n);
    expect(mmu.translate(0x400000n)).toBe(0x20000n);
    for (const v of [0x401000n, 0x402000n, 0x403000n]) {
      expect(pfCode(() => mmu.translate(v))).toBe(0);
      expect(entry(mmu, pt.root, v, 1)).toBe(0n);
    }
    expect(mmu.translate(0x404000n)).toBe(0x24000n);
    // unmapping holes is fine, and the range can be mapped again
    pt.unmap(0x300000n, 0x200000n);
    pt.map(0x401000n, 0x50000n, 0x3000n);
    expect(mmu.translate(0x402008n)).toBe(0x51008n);
  });

  it("after unmapping every 4 KiB page of a 2 MiB region, a 2 MiB page can be mapped there", () => {
    const { mmu, pt } = longMode();
    pt.map(0x40000000n, 0x20000n, 0x2000n);
    pt.unmap(0x40000000n, 0x200000n);
    pt.map(0x40000000n, 0x80000000n, 0x200000n, { size: "2M" });
    expect(mmu.tryTranslate(0x40001000n)).toEqual({ ok: true, pa: 0x80001000n, level: 2 });
  });
});

describe("protect", () => {
  it("changes rights at once (the TLB is invalidated) with the right error codes (SDM 4.6, 4.7)", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x20000n, 0x2000n, { flags: { writable: true, user: true } });
    mmu.write(0x400000n, 8, 7n, { cpl: 3 }); // cached with D set
    mmu.write(0x401000n, 8, 7n, { cpl: 3 });
    pt.protect(0x400000n, 0x1000n, { user: true }); // read-only
    expect(pfCode(() => mmu.write(0x400000n, 8, 1n, { cpl: 3 }))).toBe(PF_P | PF_W | PF_U);
    expect(pfCode(() => mmu.write(0x400000n, 8, 1n))).toBe(PF_P | PF_W); // CR0.WP=1
    expect(mmu.read(0x400000n, 8, { cpl: 3 })).toBe(7n);
    mmu.write(0x401000n, 8, 8n, { cpl: 3 }); // outside the range: unchanged
    pt.protect(0x400000n, 0x2000n, { writable: true }); // supervisor only
    expect(pfCode(() => mmu.read(0x401000n, 8, { cpl: 3 }))).toBe(PF_P | PF_U);
    mmu.write(0x401000n, 8, 9n);
    pt.protect(0x400000n, 0x1000n, { user: true, noExecute: true });
    expect(pfCode(() => mmu.fetch(0x400000n, { cpl: 3 }))).toBe(PF_P | PF_U | PF_ID);
    expect(mmu.memory.read(0x21000n, 8)).toBe(9n);
  });

  it("keeps the frame, A, D, G and cache bits; replaces R/W, U/S, XD and the key", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x20000n, 0x1000n, { flags: { writable: true, global: true, writeThrough: true, noExecute: true, pkey: 3 } });
    mmu.write(0x400000n, 8, 1n);
    expect(entry(mmu, pt.root, 0x400000n, 1)).toBe(0x20000n | P | RW | PWT | A | D | G | XD | (3n << 59n));
    pt.protect(0x400000n, 0x1000n, { user: true, pkey: 9 });
    expect(entry(mmu, pt.root, 0x400000n, 1)).toBe(0x20000n | P | US | PWT | A | D | G | (9n << 59n));
  });

  it("protects whole 2 MiB pages", () => {
    const { mmu, pt } = longMode();
    pt.map(0x40000000n, 0x80000000n, 0x400000n, { size: "2M", flags: { writable: true } });
    pt.protect(0x40200000n, 0x200000n, {});
    expect(entry(mmu, pt.root, 0x40200000n, 2)).toBe(0x80200000n | P | PS);
    expect(pfCode(() => mmu.write(0x40300000n, 1, 1))).toBe(PF_P | PF_W);
    mmu.write(0x40100000n, 1, 1);
    expect(mappingCode(() => pt.protect(0x40000000n, 0x1000n, {}))).toBe("SPLITS_LARGE_PAGE");
  });
});

describe("mapFresh", () => {
  it("maps fresh zeroed frames and returns them", () => {
    const { mmu, pt } = longMode();
    const frames = pt.mapFresh(0x500000n, 0x3000n, { writable: true });
    expect(frames.length).toBe(3);
    expect(new Set(frames).size).toBe(3);
    frames.forEach((f, i) => {
      expect(f % 0x1000n).toBe(0n);
      expect(mmu.translate(0x500000n + BigInt(i) * 0x1000n + 0x10n)).toBe(f + 0x10n);
      expect(mmu.read(0x500000n + BigInt(i) * 0x1000n, 8)).toBe(0n);
    });
    mmu.write(0x501008n, 8, 0x42n);
    expect(mmu.memory.read(frames[1]! + 8n, 8)).toBe(0x42n);
    expect(entry(mmu, pt.root, 0x500000n, 1) & 0xfffn).toBe(P | RW | A);
  });

  it("a refused mapFresh maps nothing and gives its frames back", () => {
    const { mmu, pt } = longMode();
    pt.map(0x502000n, 0x20000n, 0x1000n);
    const frames = mmu.memory.framesInUse;
    expect(mappingCode(() => pt.mapFresh(0x500000n, 0x4000n, { writable: true }))).toBe("ALREADY_MAPPED");
    expect(pfCode(() => mmu.translate(0x500000n))).toBe(0);
    expect(pfCode(() => mmu.translate(0x501000n))).toBe(0);
    expect(mmu.translate(0x502000n)).toBe(0x20000n);
    expect(mmu.memory.framesInUse).toBe(frames);
  });
});

describe("scale", () => {
  it("maps 100,000 pages in one call and translates all of them", () => {
    const { mmu, pt } = longMode();
    const N = 100_000;
    const VA = 0x7f0000000000n; // 1 GiB aligned: one PD covers the range
    const PA = 0x100000000n;
    pt.map(VA, PA, BigInt(N) * 0x1000n, { flags: { writable: true, user: true } });
    // root + PDPT + PD + ceil(100000 / 512) = 196 PTs
    expect(mmu.memory.framesInUse).toBe(3 + 196);
    const vas = new BigUint64Array(N);
    for (let i = 0; i < N; i++) vas[i] = VA + BigInt(i) * 0x1000n + BigInt(i % 4096);
    const out = mmu.translateBatch(vas, { op: "read", cpl: 3 });
    let bad = -1;
    for (let i = 0; i < N && bad < 0; i++) if (out[i] !== PA + BigInt(i) * 0x1000n + BigInt(i % 4096)) bad = i;
    expect(bad).toBe(-1);
    expect(pfCode(() => mmu.translate(VA + BigInt(N) * 0x1000n))).toBe(0);
    mmu.write(VA + BigInt(N - 1) * 0x1000n, 8, 0x99n, { cpl: 3 });
    expect(mmu.memory.read(PA + BigInt(N - 1) * 0x1000n, 8)).toBe(0x99n);
    pt.unmap(VA, BigInt(N) * 0x1000n);
    expect(pfCode(() => mmu.translate(VA + 12345n * 0x1000n))).toBe(0);
    expect(mmu.translateBatch(vas.subarray(0, 1000)).every((w) => (w >> 63n) === 1n)).toBe(true);
  });
});

describe("argument checks", () => {
  it("refuses unaligned, non-canonical, out-of-range and badly typed arguments", () => {
    const { pt } = longMode();
    expect(() => pt.map(0x400001n, 0x20000n, 0x1000n)).toThrow(ArgumentError);
    expect(() => pt.map(0x400000n, 0x20001n, 0x1000n)).toThrow(ArgumentError);
    expect(() => pt.map(0x400000n, 0x20000n, 0x1001n)).toThrow(ArgumentError);
    expect(() => pt.map(0x400000n, (1n << 52n) - 0x1000n, 0x2000n)).toThrow(ArgumentError);
    expect(() => pt.map(0x400000n, 0x20000n, 0x1000n, { flags: { pkey: 16 } })).toThrow(ArgumentError);
    expect(() => pt.map(0x400000n, 0x20000n, 0x1000n, { size: "4M" as "2M" })).toThrow(ArgumentError);
    expect(() => pt.unmap(0x400800n, 0x1000n)).toThrow(ArgumentError);
    expect(() => pt.protect(-0x1000n, 0x1000n, {})).toThrow(ArgumentError);
    const mmu = new Mmu();
    expect(() => mmu.createPageTable({ levels: 3 as 4 })).toThrow(ArgumentError);
  });

  it("a zero-length map, unmap or protect does nothing", () => {
    const { mmu, pt } = longMode();
    const frames = mmu.memory.framesInUse;
    pt.map(0x400000n, 0x20000n, 0n);
    pt.unmap(0x400000n, 0n);
    pt.protect(0x400000n, 0n, {});
    expect(mmu.memory.framesInUse).toBe(frames);
    expect(pfCode(() => mmu.translate(0x400000n))).toBe(0);
  });

  it("activePageTable() is the tree CR3 points to", () => {
    const { mmu, pt } = longMode();
    const active = mmu.activePageTable();
    expect(active.root).toBe(pt.root);
    expect(active.levels).toBe(4);
    active.map(0x400000n, 0x20000n, 0x1000n);
    expect(mmu.translate(0x400000n)).toBe(0x20000n);
  });
});
