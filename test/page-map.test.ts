/**
 * pageMap / reverseLookup: the address space of a page-table tree as merged
 * ranges, and the linear pages that map a frame. Expected ranges, linear
 * addresses (sign extension per SDM 3.3.7.1), effective rights (SDM 4.6:
 * R/W and U/S ANDed over the levels, XD ORed) and reserved-bit cases (SDM 4.5,
 * Tables 4-15 .. 4-20) are worked out by hand below.
 */
import { describe, expect, it } from "vitest";
import { Mmu, LONG_MODE, ArgumentError } from "../src/index.js";
import { pageMap, reverseLookup, type MappedFlags, type MappedRange } from "../src/inspect/page-map.js";

const P = 1n;
const RW = 2n;
const US = 4n;
const PS = 0x80n;
const XD = 1n << 63n;
const ADDR = 0x000ffffffffff000n;
const CR4_LA57 = 1n << 12n;
const EFER_NO_NXE = 0x500n; // LMA | LME

function longMode(levels: 4 | 5 = 4): { mmu: Mmu; pt: ReturnType<Mmu["createPageTable"]> } {
  const mmu = new Mmu();
  const pt = mmu.createPageTable({ levels });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root, cr4: LONG_MODE.cr4 | (levels === 5 ? CR4_LA57 : 0n) });
  return { mmu, pt };
}

/** Address of the entry for `va` at `level`, following the tree by hand (SDM 4.5). */
function entryAddr(mmu: Mmu, root: bigint, va: bigint, level: number, levels = 4): bigint {
  let table = root;
  for (let l = levels; ; l--) {
    const ea = table + ((va >> BigInt(12 + 9 * (l - 1))) & 511n) * 8n;
    if (l === level) return ea;
    table = mmu.memory.read(ea, 8) & ADDR;
  }
}

/** The table the entry for `va` at `level` lives in. */
const tableOf = (mmu: Mmu, root: bigint, va: bigint, level: number, levels = 4): bigint => entryAddr(mmu, root, va, level, levels) & ADDR;

const flags = (f: Partial<MappedFlags> = {}): MappedFlags => ({
  writable: false, user: false, noExecute: false, global: false, pkey: 0,
  writeThrough: false, cacheDisable: false, pat: false, accessed: "none", dirty: "none", ...f,
});

/** The ranges without entryAddr (checked separately where it matters). */
const strip = (rs: MappedRange[]) => rs.map(({ entryAddr: _e, ...r }) => r);

describe("pageMap", () => {
  it("merges 4 KiB leaves only when virtually and physically contiguous with equal rights", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x20000000n, 0x3000n, { flags: { writable: true, user: true } });
    pt.map(0x403000n, 0x30000000n, 0x1000n, { flags: { writable: true, user: true } }); // physical jump
    pt.map(0x404000n, 0x30001000n, 0x1000n, { flags: { user: true } }); // contiguous, read-only
    pt.map(0x406000n, 0x30003000n, 0x1000n, { flags: { user: true } }); // virtual gap
    const m = pageMap(mmu);
    expect(m.truncated).toBe(false);
    expect(m.invalid).toEqual([]);
    expect(m.root).toBe(pt.root);
    expect(m.levels).toBe(4);
    expect(strip(m.ranges)).toEqual([
      { va: 0x400000n, pa: 0x20000000n, size: 0x3000n, pageSize: "4K", leafLevel: 1, pages: 3, flags: flags({ writable: true, user: true }) },
      { va: 0x403000n, pa: 0x30000000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ writable: true, user: true }) },
      { va: 0x404000n, pa: 0x30001000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ user: true }) },
      { va: 0x406000n, pa: 0x30003000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ user: true }) },
    ]);
    // The first leaf entry of each range: PT index 0, 3, 4 and 6 of the one PT.
    const ptTable = tableOf(mmu, pt.root, 0x400000n, 1);
    expect(m.ranges.map((r) => r.entryAddr)).toEqual([ptTable, ptTable + 3n * 8n, ptTable + 4n * 8n, ptTable + 6n * 8n]);
  });

  it("an empty tree maps nothing", () => {
    const { mmu } = longMode();
    expect(pageMap(mmu)).toMatchObject({ ranges: [], invalid: [], truncated: false });
  });

  it("reports 2 MiB and 1 GiB pages, never merging different page sizes", () => {
    const { mmu, pt } = longMode();
    pt.map(0x40000000n, 0x80000000n, 0x80000000n, { size: "1G", flags: { writable: true } }); // 2 x 1 GiB
    pt.map(0x200000n, 0x600000n, 0x400000n, { size: "2M", flags: { noExecute: true } }); // 2 x 2 MiB
    // 4 KiB page right after the 2 MiB pages, virtually (0x600000) and physically (0xa00000): size differs.
    pt.map(0x600000n, 0xa00000n, 0x1000n, { flags: { noExecute: true } });
    expect(strip(pageMap(mmu).ranges)).toEqual([
      { va: 0x200000n, pa: 0x600000n, size: 0x400000n, pageSize: "2M", leafLevel: 2, pages: 2, flags: flags({ noExecute: true }) },
      { va: 0x600000n, pa: 0xa00000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ noExecute: true }) },
      { va: 0x40000000n, pa: 0x80000000n, size: 0x80000000n, pageSize: "1G", leafLevel: 3, pages: 2, flags: flags({ writable: true }) },
    ]);
  });

  it("sign-extends kernel-half addresses and never merges across the canonical hole", () => {
    const { mmu, pt } = longMode();
    // Last page of the lower half and first of the kernel half: contiguous before sign extension, and physically.
    pt.map(0x7ffffffff000n, 0xfff000n, 0x1000n, { flags: { global: true } });
    pt.map(0xffff800000000000n, 0x1000000n, 0x2000n, { flags: { global: true } });
    pt.map(0xfffffffffffff000n, 0x2000000n, 0x1000n, { flags: { writable: true } });
    expect(strip(pageMap(mmu).ranges)).toEqual([
      { va: 0x7ffffffff000n, pa: 0xfff000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ global: true }) },
      { va: 0xffff800000000000n, pa: 0x1000000n, size: 0x2000n, pageSize: "4K", leafLevel: 1, pages: 2, flags: flags({ global: true }) },
      { va: 0xfffffffffffff000n, pa: 0x2000000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ writable: true }) },
    ]);
  });

  it("splits on protection key, global and cache attributes", () => {
    const { mmu, pt } = longMode();
    pt.map(0x10000n, 0x50000n, 0x2000n, { flags: { user: true } });
    pt.map(0x12000n, 0x52000n, 0x2000n, { flags: { user: true, pkey: 3 } });
    pt.map(0x14000n, 0x54000n, 0x1000n, { flags: { user: true, pkey: 3, global: true } });
    pt.map(0x15000n, 0x55000n, 0x1000n, { flags: { user: true, pkey: 3, global: true, cacheDisable: true } });
    expect(strip(pageMap(mmu).ranges)).toEqual([
      { va: 0x10000n, pa: 0x50000n, size: 0x2000n, pageSize: "4K", leafLevel: 1, pages: 2, flags: flags({ user: true }) },
      { va: 0x12000n, pa: 0x52000n, size: 0x2000n, pageSize: "4K", leafLevel: 1, pages: 2, flags: flags({ user: true, pkey: 3 }) },
      { va: 0x14000n, pa: 0x54000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ user: true, pkey: 3, global: true }) },
      { va: 0x15000n, pa: 0x55000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ user: true, pkey: 3, global: true, cacheDisable: true }) },
    ]);
  });

  it("reports effective rights: R/W and U/S ANDed over the walk, XD ORed", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x9000n, 0x1000n, { flags: { writable: true, user: true } });
    pt.map(0x40000000n, 0xa000n, 0x1000n, { flags: { writable: true, user: true } });
    // PML4E 0 (covers both): clear R/W. PDPTE for 0x40000000 (index 1): set XD. PDE for 0x400000: clear U/S.
    const pml4e = entryAddr(mmu, pt.root, 0x400000n, 4);
    mmu.memory.write(pml4e, 8, mmu.memory.read(pml4e, 8) & ~RW);
    const pdpte = entryAddr(mmu, pt.root, 0x40000000n, 3);
    mmu.memory.write(pdpte, 8, mmu.memory.read(pdpte, 8) | XD);
    const pde = entryAddr(mmu, pt.root, 0x400000n, 2);
    mmu.memory.write(pde, 8, mmu.memory.read(pde, 8) & ~US);
    expect(strip(pageMap(mmu).ranges)).toEqual([
      { va: 0x400000n, pa: 0x9000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({}) },
      { va: 0x40000000n, pa: 0xa000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ user: true, noExecute: true }) },
    ]);
  });

  it("does not split a range by accessed / dirty, and says whether all, some or none have them", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x9000n, 0x3000n, { flags: { writable: true } });
    mmu.write(0x400000n, 1, 1); // page 0: A and D
    mmu.read(0x401000n, 1); // page 1: A
    let [r] = pageMap(mmu).ranges;
    expect(r).toMatchObject({ va: 0x400000n, size: 0x3000n, pages: 3, flags: flags({ writable: true, accessed: "some", dirty: "some" }) });
    mmu.write(0x401000n, 1, 1);
    mmu.write(0x402000n, 1, 1);
    [r] = pageMap(mmu).ranges;
    expect(r!.flags).toMatchObject({ accessed: "all", dirty: "all" });
  });

  it("walks 5-level trees: 57-bit addresses, sign-extended from bit 56", () => {
    const { mmu, pt } = longMode(5);
    pt.map(0x1000000000000n, 0x5000n, 0x1000n, { flags: { user: true } }); // 2^48: lower half with 5 levels
    pt.map(0xff00000000000000n, 0x6000n, 0x2000n, { flags: { writable: true } }); // bit 56 set
    pt.map(0xffffffffffe00000n, 0x200000n, 0x200000n, { size: "2M" }); // last 2 MiB
    const m = pageMap(mmu);
    expect(m.levels).toBe(5);
    expect(strip(m.ranges)).toEqual([
      { va: 0x1000000000000n, pa: 0x5000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ user: true }) },
      { va: 0xff00000000000000n, pa: 0x6000n, size: 0x2000n, pageSize: "4K", leafLevel: 1, pages: 2, flags: flags({ writable: true }) },
      { va: 0xffffffffffe00000n, pa: 0x200000n, size: 0x200000n, pageSize: "2M", leafLevel: 2, pages: 1, flags: flags() },
    ]);
    // PML5 index of 0xff00000000000000: bits 56:48 = 0x100 = 256.
    expect(m.ranges[1]!.entryAddr).toBe(entryAddr(mmu, pt.root, 0xff00000000000000n, 1, 5));
    expect(tableOf(mmu, pt.root, 0xff00000000000000n, 5, 5)).toBe(pt.root);
  });

  it("walks another root when asked (root and levels options)", () => {
    const { mmu } = longMode(4);
    const other = mmu.createPageTable({ levels: 5 });
    other.map(0x100000000000000n - 0x1000n, 0x7000n, 0x1000n); // last page below 2^56: lower half with 5 levels
    expect(pageMap(mmu).ranges).toEqual([]);
    // 2^56 - 0x1000 = 0x00fffffffffff000: bit 56 clear, so no sign extension.
    expect(strip(pageMap(mmu, { root: other.root, levels: 5 }).ranges)).toEqual([
      { va: 0xfffffffffff000n, pa: 0x7000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags() },
    ]);
  });

  it("rejects bad options, changing nothing", () => {
    const { mmu } = longMode();
    expect(() => pageMap(mmu, { root: 0x100800n })).toThrow(ArgumentError);
    expect(() => pageMap(mmu, { root: 1n << 52n })).toThrow(ArgumentError);
    expect(() => pageMap(mmu, { limit: 0 })).toThrow(ArgumentError);
    expect(() => pageMap(mmu, { levels: 3 as 4 })).toThrow(ArgumentError);
    expect(() => reverseLookup(mmu, -1n)).toThrow(ArgumentError);
  });
});

describe("invalid entries (reserved bits)", () => {
  it("lists them apart, with the reason, and maps nothing through them", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    mmu.loadState({ ...LONG_MODE, cr3: pt.root, maxPhyAddr: 40 });
    pt.map(0x400000n, 0x9000n, 0x2000n, { flags: { writable: true } });
    pt.map(0x40000000n, 0x400000n, 0x200000n, { size: "2M" });
    // PTE of 0x401000: frame address bit 45 (>= MAXPHYADDR 40).
    const pte = entryAddr(mmu, pt.root, 0x401000n, 1);
    const bad = 0x9000n | (1n << 45n) | P | RW;
    mmu.memory.write(pte, 8, bad);
    // PDE of the 2 MiB page at 0x40000000: bit 13 (low frame bits of a large page).
    const pde = entryAddr(mmu, pt.root, 0x40000000n, 2);
    const largeBad = mmu.memory.read(pde, 8) | (1n << 13n);
    mmu.memory.write(pde, 8, largeBad);
    // PML4E 5: PS set (reserved in a PML4E); points at the root, which would map things if followed.
    const pml4e = pt.root + 5n * 8n;
    const psBad = pt.root | P | RW | PS;
    mmu.memory.write(pml4e, 8, psBad);
    const m = pageMap(mmu);
    expect(strip(m.ranges)).toEqual([
      { va: 0x400000n, pa: 0x9000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ writable: true }) },
    ]);
    expect(m.invalid).toEqual([
      { va: 0x401000n, size: 0x1000n, level: 1, levelName: "PT", entryAddr: pte, entry: bad, reason: expect.stringContaining("MAXPHYADDR (40)") },
      { va: 0x40000000n, size: 0x200000n, level: 2, levelName: "PD", entryAddr: pde, entry: largeBad, reason: expect.stringContaining("bits 20:13 of a 2 MiB page") },
      { va: 5n << 39n, size: 1n << 39n, level: 4, levelName: "PML4", entryAddr: pml4e, entry: psBad, reason: expect.stringContaining("PS in a PML4E") },
    ]);
    // The walker agrees: each faults with RSVD (error code P|RSVD = 0x9).
    for (const va of [0x401000n, 0x40000000n, 5n << 39n]) {
      const t = mmu.probe(va);
      expect(t.ok).toBe(false);
      if (!t.ok) expect(t.fault).toMatchObject({ errorCode: 0x9 });
    }
  });

  it("XD is reserved while EFER.NXE=0: such a page is invalid, not no-execute", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    mmu.loadState({ ...LONG_MODE, efer: EFER_NO_NXE, cr3: pt.root });
    pt.map(0x400000n, 0x9000n, 0x1000n, { flags: { noExecute: true } });
    pt.map(0x401000n, 0xa000n, 0x1000n);
    const m = pageMap(mmu);
    expect(strip(m.ranges)).toEqual([{ va: 0x401000n, pa: 0xa000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags() }]);
    expect(m.invalid).toHaveLength(1);
    expect(m.invalid[0]).toMatchObject({ va: 0x400000n, level: 1, entry: 0x9000n | P | XD, reason: expect.stringContaining("XD (bit 63) with EFER.NXE=0") });
  });
});

describe("self-referencing tables", () => {
  it("follows a recursive root slot and shows the tables as mapped data", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x9000n, 0x1000n, { flags: { writable: true, user: true } });
    const pdpt = tableOf(mmu, pt.root, 0x400000n, 3);
    const pd = tableOf(mmu, pt.root, 0x400000n, 2);
    const ptt = tableOf(mmu, pt.root, 0x400000n, 1);
    mmu.memory.write(pt.root + 510n * 8n, 8, pt.root | P | RW); // supervisor-only recursive slot
    // Through slot 510 the root is read as a PDPT, PD or PT (510 << 39 = 0xff0000000000, sign-extended):
    //   510/0/0/2     -> PT frame     (root[0] -> PDPT as PD, PDPT[0] -> PD as PT, PD[2] -> PT)
    //   510/510/0/0   -> PD frame
    //   510/510/510/0 -> PDPT frame
    //   510/510/510/510 -> the root
    const sup = flags({ writable: true });
    expect(strip(pageMap(mmu).ranges)).toEqual([
      { va: 0x400000n, pa: 0x9000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ writable: true, user: true }) },
      { va: 0xffffff0000002000n, pa: ptt, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: sup },
      { va: 0xffffff7f80000000n, pa: pd, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: sup },
      { va: 0xffffff7fbfc00000n, pa: pdpt, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: sup },
      { va: 0xffffff7fbfdfe000n, pa: pt.root, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: sup },
    ]);
    // The translation agrees: the recursive address of the root reads the root.
    expect(mmu.probe(0xffffff7fbfdfe000n)).toMatchObject({ ok: true, pa: pt.root });
    // Reverse lookup of the PT frame finds its recursive alias.
    expect(reverseLookup(mmu, ptt).ranges.map((r) => r.va)).toEqual([0xffffff0000002000n]);
  });

  it("a root whose 512 slots all point to itself stops at the limit and says so", () => {
    const { mmu, pt } = longMode();
    for (let i = 0n; i < 512n; i++) mmu.memory.write(pt.root + i * 8n, 8, pt.root | P | RW | US);
    // 512^4 leaves, every one mapping the root frame: no two are physically contiguous.
    const m = pageMap(mmu, { limit: 1000 });
    expect(m.truncated).toBe(true);
    expect(m.ranges).toHaveLength(1000);
    expect(strip(m.ranges.slice(0, 2))).toEqual([
      { va: 0n, pa: pt.root, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ writable: true, user: true }) },
      { va: 0x1000n, pa: pt.root, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, flags: flags({ writable: true, user: true }) },
    ]);
    expect(m.ranges[999]!.va).toBe(999n * 0x1000n);
    const r = reverseLookup(mmu, pt.root, { limit: 600 });
    expect(r.truncated).toBe(true);
    expect(r.ranges).toHaveLength(600);
    const t0 = performance.now();
    const full = pageMap(mmu); // default limit: 1,000,000 leaves
    expect(full.truncated).toBe(true);
    expect(full.ranges).toHaveLength(1_000_000);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it("an empty table referenced from every slot is scanned quickly", () => {
    const { mmu, pt } = longMode();
    const empty = mmu.memory.allocFrame();
    const mid = mmu.memory.allocFrame();
    for (let i = 0n; i < 512n; i++) mmu.memory.write(mid + i * 8n, 8, empty | P | RW);
    for (let i = 0n; i < 512n; i++) mmu.memory.write(pt.root + i * 8n, 8, mid | P | RW);
    // 512 PML4Es -> one PDPT whose 512 PDPTEs -> one empty PD: 2^18 references, no leaf.
    const t0 = performance.now();
    expect(pageMap(mmu)).toMatchObject({ ranges: [], invalid: [], truncated: false });
    // Each (table, level) with an empty subtree is scanned once (without that: 2^27 entry reads, seconds).
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe("reverseLookup", () => {
  it("finds every alias of a frame, large pages reported for the 4 KiB piece on the frame", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x7000n, 0x1000n, { flags: { writable: true, user: true } });
    pt.map(0xffff800000100000n, 0x7000n, 0x1000n, { flags: { global: true, noExecute: true } });
    pt.map(0x600000n, 0x0n, 0x200000n, { size: "2M", flags: { user: true } }); // covers 0x7000 at 0x607000
    pt.map(0x40000000n, 0x0n, 0x40000000n, { size: "1G" }); // covers 0x7000 at 0x40007000
    pt.map(0x401000n, 0x8000n, 0x1000n); // another frame
    const r = reverseLookup(mmu, 0x7abcn);
    expect(r.frame).toBe(0x7000n);
    expect(r.truncated).toBe(false);
    expect(r.ranges).toEqual([
      { va: 0x400000n, pa: 0x7000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, entryAddr: entryAddr(mmu, pt.root, 0x400000n, 1), flags: flags({ writable: true, user: true }) },
      { va: 0x607000n, pa: 0x7000n, size: 0x1000n, pageSize: "2M", leafLevel: 2, pages: 1, entryAddr: entryAddr(mmu, pt.root, 0x600000n, 2), flags: flags({ user: true }) },
      { va: 0x40007000n, pa: 0x7000n, size: 0x1000n, pageSize: "1G", leafLevel: 3, pages: 1, entryAddr: entryAddr(mmu, pt.root, 0x40000000n, 3), flags: flags() },
      { va: 0xffff800000100000n, pa: 0x7000n, size: 0x1000n, pageSize: "4K", leafLevel: 1, pages: 1, entryAddr: entryAddr(mmu, pt.root, 0xffff800000100000n, 1), flags: flags({ global: true, noExecute: true }) },
    ]);
    // A frame mapped only by the large pages: 0x1f5000 is in the 2 MiB page (at 0x7f5000) and the 1 GiB page.
    expect(reverseLookup(mmu, 0x1f5000n).ranges.map((x) => [x.va, x.pageSize])).toEqual([[0x7f5000n, "2M"], [0x401f5000n, "1G"]]);
    // A frame nobody maps.
    expect(reverseLookup(mmu, 0x80000000n).ranges).toEqual([]);
  });
});

describe("side effects and speed", () => {
  it("sets no accessed or dirty flag and gives no frame storage", () => {
    const { mmu, pt } = longMode();
    pt.map(0x400000n, 0x9000n, 0x10000n, { flags: { writable: true } });
    pt.map(0x200000000n, 0x40000000n, 0x40000000n, { size: "1G" });
    mmu.memory.write(pt.root + 511n * 8n, 8, pt.root | P | RW);
    const snapshot = () => mmu.memory.frames().map((f) => [f, mmu.memory.readBytes(f, 4096)] as const);
    const before = snapshot();
    pageMap(mmu);
    reverseLookup(mmu, 0x9000n);
    reverseLookup(mmu, pt.root);
    const after = snapshot();
    expect(after.map(([f]) => f)).toEqual(before.map(([f]) => f));
    for (let i = 0; i < before.length; i++) expect(after[i]![1]).toEqual(before[i]![1]);
  });

  it("maps 100,000 4 KiB pages into one range in well under 2 s", () => {
    const { mmu, pt } = longMode();
    pt.map(0x10000000n, 0x100000000n, 100_000n * 0x1000n, { flags: { writable: true, user: true } });
    const t0 = performance.now();
    const m = pageMap(mmu);
    const ms = performance.now() - t0;
    expect(strip(m.ranges)).toEqual([
      { va: 0x10000000n, pa: 0x100000000n, size: 100_000n * 0x1000n, pageSize: "4K", leafLevel: 1, pages: 100_000, flags: flags({ writable: true, user: true }) },
    ]);
    expect(ms).toBeLessThan(2000);
    const t1 = performance.now();
    expect(reverseLookup(mmu, 0x100000000n + 99_999n * 0x1000n).ranges.map((r) => r.va)).toEqual([0x10000000n + 99_999n * 0x1000n]);
    expect(performance.now() - t1).toBeLessThan(2000);
  });
});
