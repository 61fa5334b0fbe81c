/**
 * The Mmu API: bigint and number paths, faults as values, page-crossing and
 * bulk accesses, batches, probe, register validation and paging off. Every
 * expected value is derived by hand from the Intel SDM Vol. 3A (section cited
 * in a comment), never from the emulator's own output.
 */
import { describe, expect, it } from "vitest";
import {
  Mmu, LONG_MODE, decodeBatchFault, encodeAccess, PageFault, GeneralProtection, ArgumentError, RegisterError, X86MmuError,
  type PteFlags,
} from "../src/index.js";

// Page-fault error-code bits (SDM 4.7, Figure 4-12).
const PF_P = 0x1;
const PF_W = 0x2;
const PF_U = 0x4;
const PF_RSVD = 0x8;
const PF_ID = 0x10;
const PF_PK = 0x20;

const ADDR = 0x000ffffffffff000n;
const A = 0x20n;
const D = 0x40n;

// Layout used by most tests (linear -> physical, 4 KiB pages):
//   0x400000 -> PA1 writable, user
//   0x401000 -> PA2 read-only, user
//   0x402000    not mapped
//   0xffff800000001000 -> PA3 writable (kernel half: PML4 index 256)
const PA1 = 0x20000n;
const PA2 = 0x21000n;
const PA3 = 0x22000n;
const V1 = 0x400000n;
const V2 = 0x401000n;
const VHOLE = 0x402000n;
const VK = 0xffff800000001000n;

function setup(extra: [bigint, bigint, PteFlags][] = [], state: Partial<Parameters<Mmu["loadState"]>[0]> = {}): Mmu {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  pt.map(V1, PA1, 0x1000n, { flags: { writable: true, user: true } });
  pt.map(V2, PA2, 0x1000n, { flags: { user: true } });
  pt.map(VK, PA3, 0x1000n, { flags: { writable: true } });
  for (const [va, pa, flags] of extra) pt.map(va, pa, 0x1000n, { flags });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root, ...state });
  return mmu;
}

/** The entry for `va` at `level` (4 = PML4E .. 1 = PTE), found by hand as in SDM 4.5. */
function entryAddr(mmu: Mmu, va: bigint, level: number, levels = 4): bigint {
  let table = mmu.cr3 & ADDR;
  for (let l = levels; ; l--) {
    const ea = table + ((va >> BigInt(12 + 9 * (l - 1))) & 511n) * 8n;
    if (l === level) return ea;
    table = mmu.memory.read(ea, 8) & ADDR;
  }
}
function entries(mmu: Mmu, va: bigint): bigint[] {
  return [4, 3, 2, 1].map((l) => mmu.memory.read(entryAddr(mmu, va, l), 8));
}

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}
/** Index of the first byte where `a` and `b` differ, -1 if equal (fast, unlike toEqual on large arrays). */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
    ? -1
    : a.findIndex((x, i) => x !== b[i]);
}

function pf(f: () => unknown): PageFault {
  const e = caught(f);
  expect(e).toBeInstanceOf(PageFault);
  return e as PageFault;
}

describe("translate with bigint addresses", () => {
  it("translates kernel-half addresses (PML4 index 256; SDM 4.5, 3.3.7.1 canonical)", () => {
    const mmu = setup();
    expect(mmu.translate(VK + 0xabcn)).toBe(PA3 + 0xabcn);
    mmu.write(VK + 8n, 8, 0x0123456789abcdefn);
    expect(mmu.memory.read(PA3 + 8n, 8)).toBe(0x0123456789abcdefn);
    expect(mmu.read(VK + 8n, 8)).toBe(0x0123456789abcdefn);
  });

  it("translates the very top of the address space (indices 511/511/511/511, a 2 MiB page at 511/511/511)", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(0xffffffffffe00000n, 0x40000000n, 0x200000n, { size: "2M", flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    expect(mmu.translate(0xffffffffffffffffn)).toBe(0x401fffffn);
    expect(mmu.tryTranslate(0xffffffffffe01234n)).toEqual({ ok: true, pa: 0x40001234n, level: 2 });
  });

  it("an unmapped kernel-half address faults with CR2 = the address", () => {
    const mmu = setup();
    const e = pf(() => mmu.translate(0xffffffffffffffffn));
    expect(e.cr2).toBe(0xffffffffffffffffn);
    expect(e.errorCode).toBe(0);
  });

  it("non-canonical addresses raise #GP(0) (SDM 3.3.7.1, 4.5: bits 63:47 must be equal)", () => {
    const mmu = setup();
    for (const va of [0x0000800000000000n, 0xffff7fffffffffffn, 0x8000000000000000n, 0x00ff000000000000n]) {
      const e = caught(() => mmu.translate(va));
      expect(e).toBeInstanceOf(GeneralProtection);
      expect((e as GeneralProtection).address).toBe(va);
      expect((e as GeneralProtection).errorCode).toBe(0);
      expect((e as GeneralProtection).code).toBe("GENERAL_PROTECTION");
      const t = mmu.tryTranslate(va, { op: "write" });
      expect(t.ok).toBe(false);
      if (!t.ok) expect(t.fault).toBeInstanceOf(GeneralProtection);
    }
  });

  it("refuses addresses that are not integers in 0..2^64-1", () => {
    const mmu = setup();
    expect(() => mmu.translate(-1n)).toThrow(ArgumentError);
    expect(() => mmu.translate(1n << 64n)).toThrow(ArgumentError);
    expect(() => mmu.translate(-1)).toThrow(ArgumentError);
    expect(() => mmu.translate(1.5)).toThrow(ArgumentError);
    expect(() => mmu.translate(2 ** 53)).toThrow(ArgumentError);
    expect(() => mmu.read(2 ** 53, 1)).toThrow(ArgumentError);
    expect(() => mmu.invlpg(-1n)).toThrow(ArgumentError);
    // a safe number is fine
    expect(mmu.translate(Number(V1) + 5)).toBe(PA1 + 5n);
  });
});

describe("tryTranslate level and canonical crossing", () => {
  function mixed(): Mmu {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(0x401000n, 0x20000n, 0x1000n, { flags: { writable: true } }); // TLB slot 1
    pt.map(0x40000000n, 0x80000000n, 0x200000n, { size: "2M", flags: { writable: true } }); // slot 0
    pt.map(0x7ffffffff000n, 0x30000n, 0x1000n, { flags: { writable: true } }); // last page below 2^47
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    return mmu;
  }

  it("reports the level of the page the address is in (1 = 4 KiB, 2 = 2 MiB)", () => {
    const mmu = mixed();
    expect(mmu.tryTranslate(0x401000n)).toEqual({ ok: true, pa: 0x20000n, level: 1 });
    expect(mmu.tryTranslate(0x40000000n)).toEqual({ ok: true, pa: 0x80000000n, level: 2 });
  });

  it("reports level 1 for a cached 4 KiB page after a 2 MiB translation", () => {
    const mmu = mixed();
    mmu.translate(0x401000n); // 4 KiB page, now cached (TLB slot 1)
    mmu.translate(0x40000000n); // 2 MiB page, slow path (slot 0)
    expect(mmu.tryTranslate(0x401000n)).toEqual({ ok: true, pa: 0x20000n, level: 1 });
  });

  it("reports level 2 for a cached 2 MiB page after a 4 KiB translation", () => {
    const mmu = mixed();
    mmu.translate(0x40000000n); // 2 MiB page, now cached (slot 0)
    mmu.translate(0x401000n); // 4 KiB page, slow path (slot 1)
    expect(mmu.tryTranslate(0x40000000n)).toEqual({ ok: true, pa: 0x80000000n, level: 2 });
  });

  it("an access crossing from the last canonical page into non-canonical space raises #GP (SDM 3.3.7.1)", () => {
    const mmu = mixed();
    expect(mmu.translate(0x7ffffffffffcn, { op: "read", size: 4 })).toBe(0x30ffcn);
    const e = caught(() => mmu.read(0x7ffffffffffen, 4));
    expect(e).toBeInstanceOf(GeneralProtection);
    expect(() => mmu.write(0x7ffffffffffen, 4, 1)).toThrow(GeneralProtection);
    expect(mmu.memory.read(0x30ffen, 2)).toBe(0n);
    expect(() => mmu.readBytes(0x7ffffffff000n, 0x1001)).toThrow(GeneralProtection);
    expect(() => mmu.readBytes(0xfffffffffffff000n, 0x2000)).toThrow(ArgumentError); // wraps past 2^64
  });
});

describe("number fast paths", () => {
  const R4 = encodeAccess({ op: "read", size: 4 });
  const W2 = encodeAccess({ op: "write", size: 2 });

  it("translateNumber returns the physical address, or -1 with lastFault()", () => {
    const mmu = setup();
    expect(mmu.translateNumber(0x400234, R4)).toBe(0x20234);
    expect(mmu.translateNumber(0x402000, R4)).toBe(-1);
    const f = mmu.lastFault();
    expect(f).toBeInstanceOf(PageFault);
    expect((f as PageFault).errorCode).toBe(0);
    expect((f as PageFault).cr2).toBe(0x402000n);
    // 2^47 is a safe integer but not canonical: #GP
    expect(mmu.translateNumber(2 ** 47, R4)).toBe(-1);
    const g = mmu.lastFault();
    expect(g).toBeInstanceOf(GeneralProtection);
    expect((g as GeneralProtection).address).toBe(1n << 47n);
  });

  it("loadNumber returns the value (also 0xffffffff), or -1 with lastFault()", () => {
    const mmu = setup();
    mmu.memory.write(PA1 + 0x10n, 4, 0xffffffffn);
    mmu.memory.write(PA1 + 0x20n, 4, 0xdeadbeefn);
    expect(mmu.loadNumber(0x400010, R4)).toBe(0xffffffff);
    expect(mmu.loadNumber(0x400020, R4)).toBe(0xdeadbeef);
    expect(mmu.loadNumber(0x400020, encodeAccess({ op: "read", size: 1 }))).toBe(0xef);
    expect(mmu.loadNumber(0x402000, encodeAccess({ op: "read", size: 4, cpl: 3 }))).toBe(-1);
    const f = mmu.lastFault() as PageFault;
    expect(f.errorCode).toBe(PF_U);
    expect(f.cr2).toBe(0x402000n);
  });

  it("storeNumber returns 0, or nonzero with lastFault() and nothing written", () => {
    const mmu = setup();
    expect(mmu.storeNumber(0x400008, W2, 0x1234)).toBe(0);
    expect(mmu.memory.read(PA1 + 8n, 8)).toBe(0x1234n);
    // read-only page, supervisor write with CR0.WP=1: P|W (4.6.1)
    expect(mmu.storeNumber(0x401008, W2, 0x5678)).not.toBe(0);
    const f = mmu.lastFault() as PageFault;
    expect(f.errorCode).toBe(PF_P | PF_W);
    expect(f.cr2).toBe(0x401008n);
    expect(mmu.memory.read(PA2 + 8n, 8)).toBe(0n);
    // a 2-byte store crossing from a writable page into a read-only one writes nothing
    expect(mmu.storeNumber(0x400fff, W2, 0xabcd)).not.toBe(0);
    expect((mmu.lastFault() as PageFault).cr2).toBe(0x401000n);
    expect(mmu.memory.read(PA1 + 0xfffn, 1)).toBe(0n);
    expect(mmu.memory.read(PA2, 1)).toBe(0n);
  });

  it("unsafe numbers (2^53 and above), negatives and fractions throw ArgumentError", () => {
    const mmu = setup();
    expect(() => mmu.translateNumber(2 ** 53, R4)).toThrow(ArgumentError);
    expect(() => mmu.loadNumber(2 ** 53, R4)).toThrow(ArgumentError);
    expect(() => mmu.storeNumber(2 ** 53, W2, 1)).toThrow(ArgumentError);
    expect(() => mmu.translateNumber(-4096, R4)).toThrow(ArgumentError);
    expect(() => mmu.translateNumber(0.5, R4)).toThrow(ArgumentError);
    expect(() => mmu.translateNumber(2 ** 64, R4)).toThrow(ArgumentError);
  });
});

describe("PageFault fields (SDM 4.7)", () => {
  it("user write to a read-only user page: P|W|U", () => {
    const mmu = setup();
    const e = pf(() => mmu.write(V2 + 0x10n, 4, 1, { cpl: 3 }));
    expect(e.errorCode).toBe(PF_P | PF_W | PF_U);
    expect(e.cr2).toBe(V2 + 0x10n);
    expect([e.present, e.write, e.user, e.reserved, e.fetch, e.protectionKey]).toEqual([true, true, true, false, false, false]);
    expect(e.code).toBe("PAGE_FAULT");
    expect(e).toBeInstanceOf(X86MmuError);
    expect(e).toBeInstanceOf(Error);
  });

  it("not-present supervisor read: error code 0", () => {
    const mmu = setup();
    const e = pf(() => mmu.read(VHOLE + 3n, 1));
    expect(e.errorCode).toBe(0);
    expect(e.cr2).toBe(VHOLE + 3n);
    expect([e.present, e.write, e.user, e.reserved, e.fetch, e.protectionKey]).toEqual([false, false, false, false, false, false]);
  });

  it("reserved bit (a PTE address bit at or above MAXPHYADDR): P|RSVD", () => {
    const mmu = setup([], { maxPhyAddr: 40 });
    const ea = entryAddr(mmu, V1, 1);
    mmu.memory.write(ea, 8, mmu.memory.read(ea, 8) | (1n << 45n));
    const e = pf(() => mmu.read(V1, 8));
    expect(e.errorCode).toBe(PF_P | PF_RSVD);
    expect(e.reserved).toBe(true);
    expect(e.present).toBe(true);
  });

  it("fetch from an XD page with EFER.NXE=1: P|I/D", () => {
    const mmu = setup([[0x403000n, 0x23000n, { noExecute: true }]]);
    const e = pf(() => mmu.fetch(0x403000n));
    expect(e.errorCode).toBe(PF_P | PF_ID);
    expect(e.fetch).toBe(true);
  });

  it("protection key: P|U|PK", () => {
    const mmu = setup([[0x403000n, 0x23000n, { user: true, pkey: 5 }]], { cr4: LONG_MODE.cr4 | (1n << 22n), pkru: 1 << 10 });
    const e = pf(() => mmu.read(0x403000n, 1, { cpl: 3 }));
    expect(e.errorCode).toBe(PF_P | PF_U | PF_PK);
    expect(e.protectionKey).toBe(true);
  });
});

describe("page-crossing accesses", () => {
  it("a write whose second page faults writes nothing in either page", () => {
    const mmu = setup();
    const before1 = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    const before2 = Uint8Array.from({ length: 16 }, (_, i) => 0xb0 + i);
    mmu.memory.writeBytes(PA1 + 0xff0n, before1);
    mmu.memory.writeBytes(PA2, before2);
    const e = pf(() => mmu.write(V1 + 0xffcn, 8, 0x1122334455667788n));
    expect(e.errorCode).toBe(PF_P | PF_W);
    expect(e.cr2).toBe(V2);
    expect(mmu.memory.readBytes(PA1 + 0xff0n, 16)).toEqual(before1);
    expect(mmu.memory.readBytes(PA2, 16)).toEqual(before2);
  });

  it("a user write whose second page is not present writes nothing (CR2 = the second page)", () => {
    const mmu = setup([[0x406000n, 0x26000n, { writable: true, user: true }]]); // 0x407000 not mapped
    mmu.memory.write(0x26ff8n, 8, 0x0102030405060708n);
    const e = pf(() => mmu.write(0x406ffen, 4, 0xffffffff, { cpl: 3 }));
    expect(e.cr2).toBe(0x407000n);
    expect(e.errorCode).toBe(PF_W | PF_U);
    expect(mmu.memory.read(0x26ff8n, 8)).toBe(0x0102030405060708n);
  });

  it("a write across two writable pages in distant frames splits little-endian bytes", () => {
    const mmu = setup([[0x404000n, 0x30000n, { writable: true }], [0x405000n, 0x25000n, { writable: true }]]);
    mmu.write(0x404ffcn, 8, 0x1122334455667788n);
    expect(mmu.memory.readBytes(0x30ffcn, 4)).toEqual(Uint8Array.of(0x88, 0x77, 0x66, 0x55));
    expect(mmu.memory.readBytes(0x25000n, 4)).toEqual(Uint8Array.of(0x44, 0x33, 0x22, 0x11));
    expect(mmu.read(0x404ffcn, 8)).toBe(0x1122334455667788n);
    expect(mmu.read(0x404ffen, 4)).toBe(0x33445566n);
  });

  it("a read whose second page is not mapped faults with CR2 = the second page", () => {
    const mmu = setup();
    const e = pf(() => mmu.read(V2 + 0xff9n, 8));
    expect(e.cr2).toBe(VHOLE);
    expect(e.errorCode).toBe(0);
  });
});

describe("readBytes / writeBytes", () => {
  const BASE = 0x600000n;
  const PBASE = 0x100000000n; // 4 GiB, physically contiguous
  const PAGES = 40;

  function bulk(holes: number[] = [], readOnly: number[] = []): Mmu {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    for (let i = 0; i < PAGES; i++) {
      if (holes.includes(i)) continue;
      pt.map(BASE + BigInt(i) * 0x1000n, PBASE + BigInt(i) * 0x1000n, 0x1000n, { flags: { writable: !readOnly.includes(i) } });
    }
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    return mmu;
  }

  it("round-trips data across many pages", () => {
    const mmu = bulk();
    const len = PAGES * 4096 - 100;
    const data = Uint8Array.from({ length: len }, (_, i) => (i * 7 + 3) & 255);
    mmu.writeBytes(BASE + 50n, data);
    expect(firstDiff(mmu.readBytes(BASE + 50n, len), data)).toBe(-1);
    expect(firstDiff(mmu.memory.readBytes(PBASE + 50n, len), data)).toBe(-1);
    expect(mmu.memory.read(PBASE + 49n, 1)).toBe(0n);
    expect(mmu.memory.read(PBASE + 50n + BigInt(len), 1)).toBe(0n);
    expect(mmu.readBytes(BASE, 0)).toEqual(new Uint8Array(0));
  });

  it("a fault in the middle of writeBytes writes no byte (not-present page)", () => {
    const mmu = bulk([10]);
    const fill = new Uint8Array(PAGES * 4096).fill(0x5a);
    mmu.memory.writeBytes(PBASE, fill);
    const e = pf(() => mmu.writeBytes(BASE + 8n, new Uint8Array(PAGES * 4096 - 16).fill(0x11)));
    expect(e.cr2).toBe(BASE + 10n * 0x1000n);
    expect(e.errorCode).toBe(PF_W);
    expect(firstDiff(mmu.memory.readBytes(PBASE, PAGES * 4096), fill)).toBe(-1);
  });

  it("a fault in the middle of writeBytes writes no byte (read-only page)", () => {
    const mmu = bulk([], [25]);
    const e = pf(() => mmu.writeBytes(BASE, new Uint8Array(PAGES * 4096).fill(0x11)));
    expect(e.cr2).toBe(BASE + 25n * 0x1000n);
    expect(e.errorCode).toBe(PF_P | PF_W);
    expect(firstDiff(mmu.memory.readBytes(PBASE, PAGES * 4096), new Uint8Array(PAGES * 4096))).toBe(-1);
    expect(mmu.memory.framesInUse).toBeGreaterThan(0); // page tables only
  });

  it("readBytes with a hole in the middle faults", () => {
    const mmu = bulk([17]);
    const e = pf(() => mmu.readBytes(BASE + 0x10n, PAGES * 4096 - 0x20, { cpl: 0 }));
    expect(e.cr2).toBe(BASE + 17n * 0x1000n);
    expect(e.errorCode).toBe(0);
  });
});

describe("translateBatch and Batch", () => {
  it("returns physical addresses and fault words (decodeBatchFault)", () => {
    const mmu = setup();
    const vas = BigUint64Array.of(V1 + 0x10n, V2 + 0xffen, V2 + 0xfffn, VHOLE, 1n << 47n, VK);
    const out = mmu.translateBatch(vas, { op: "read", size: 2, cpl: 3 });
    expect(out.length).toBe(6);
    expect(out[0]).toBe(PA1 + 0x10n);
    expect(out[1]).toBe(PA2 + 0xffen); // 0xffe + 2 = 0x1000: no crossing
    expect(decodeBatchFault(out[0]!, vas[0]!)).toBeUndefined();
    // crossing into the unmapped page: #PF on the second page, user read not present = U
    const f2 = decodeBatchFault(out[2]!, vas[2]!) as PageFault;
    expect(f2).toBeInstanceOf(PageFault);
    expect(f2.cr2).toBe(VHOLE);
    expect(f2.errorCode).toBe(PF_U);
    const f3 = decodeBatchFault(out[3]!, vas[3]!) as PageFault;
    expect(f3.cr2).toBe(VHOLE);
    expect(f3.errorCode).toBe(PF_U);
    const f4 = decodeBatchFault(out[4]!, vas[4]!);
    expect(f4).toBeInstanceOf(GeneralProtection);
    expect((f4 as GeneralProtection).address).toBe(1n << 47n);
    // user access to a supervisor page: P|U
    const f5 = decodeBatchFault(out[5]!, vas[5]!) as PageFault;
    expect(f5.errorCode).toBe(PF_P | PF_U);
    expect(f5.cr2).toBe(VK);
    const b = mmu.batch(8);
    b.input.set(vas);
    expect(b.translate(6, { op: "read", size: 2, cpl: 3 })).toBe(4);
  });

  it("stores and loads many values, stopping at the first fault", () => {
    const mmu = setup();
    const b = mmu.batch(4);
    b.input.set([V1, V1 + 8n, V1 + 0xffcn, V2]);
    b.values.set([0x1111111111111111n, 0x2222222222222222n, 0xaabbccddeeff0011n, 5n]);
    // index 2 crosses into the read-only page: it faults (supervisor, WP=1: P|W)
    expect(b.store(4, { op: "write", size: 8 })).toBe(2);
    let f = mmu.lastFault() as PageFault;
    expect(f.errorCode).toBe(PF_P | PF_W);
    expect(f.cr2).toBe(V2);
    expect(mmu.memory.read(PA1, 8)).toBe(0x1111111111111111n);
    expect(mmu.memory.read(PA1 + 8n, 8)).toBe(0x2222222222222222n);
    expect(mmu.memory.read(PA1 + 0xff8n, 8)).toBe(0n);
    b.input.set([V1, V1 + 8n, V1 + 0xcn, V1 + 4n]);
    b.values.set([1n, 2n, 3n, 0xfedcba9876543210n]);
    expect(b.store(4, { op: "write", size: 4 })).toBe(4);
    // bytes 0..3 = 1, 4..7 = 0x76543210, 8..11 = 2, 12..15 = 3
    expect(mmu.memory.read(PA1, 8)).toBe(0x7654321000000001n);
    expect(mmu.memory.read(PA1 + 8n, 8)).toBe(0x0000000300000002n);
    b.input.set([V1, V1 + 8n, VHOLE, V1]);
    expect(b.load(4, { op: "read", size: 8 })).toBe(2);
    expect(b.output[0]).toBe(0x7654321000000001n);
    expect(b.output[1]).toBe(0x0000000300000002n);
    f = mmu.lastFault() as PageFault;
    expect(f.cr2).toBe(VHOLE);
    b.input.set([V1 + 4n, V1 + 8n]);
    expect(b.load(2, { op: "read", size: 2 })).toBe(2);
    expect(b.output[0]).toBe(0x3210n);
    expect(b.output[1]).toBe(0x2n);
  });

  it("validates batch arguments", () => {
    const mmu = setup();
    expect(() => mmu.batch(0)).toThrow(ArgumentError);
    const b = mmu.batch(2);
    expect(() => b.translate(3, { op: "read" })).toThrow(ArgumentError);
    expect(() => b.store(1, { op: "read" })).toThrow(ArgumentError);
  });
});

describe("probe vs translate (SDM 4.8 accessed and dirty flags)", () => {
  it("probe sets no A/D flag; translate sets A in every entry and D in the leaf for a write", () => {
    const mmu = setup();
    const before = entries(mmu, V1);
    // tables the builder makes: P|RW|US; the leaf: P|RW|US (no A, no D yet)
    expect(before.map((e) => e & 0xfffn)).toEqual([0x7n, 0x7n, 0x7n, 0x7n]);
    expect(mmu.probe(V1 + 0x42n, { op: "write", cpl: 3 })).toMatchObject({ ok: true, pa: PA1 + 0x42n, level: 1 });
    expect(entries(mmu, V1)).toEqual(before);
    const p = mmu.probe(VHOLE, { op: "write" });
    expect(p.ok).toBe(false);
    if (!p.ok) expect((p.fault as PageFault).errorCode).toBe(PF_W);
    expect(entries(mmu, V1)).toEqual(before);
    mmu.translate(V1 + 0x42n, { op: "write", cpl: 3 });
    const after = entries(mmu, V1);
    expect(after.slice(0, 3).map((e) => e & 0x60n)).toEqual([A, A, A]); // D is not set in non-leaf entries
    expect(after[3]! & 0x60n).toBe(A | D);
  });

  it("a read sets A but not D", () => {
    const mmu = setup();
    mmu.translate(V1);
    expect(entries(mmu, V1)[3]! & 0x60n).toBe(A);
  });

  it("probe neither uses nor fills the TLB", () => {
    const mmu = setup();
    expect(mmu.translate(V1)).toBe(PA1);
    const ea = entryAddr(mmu, V1, 1);
    mmu.memory.write(ea, 8, (mmu.memory.read(ea, 8) & ~ADDR) | 0x50000n);
    const p = mmu.probe(V1);
    expect(p).toMatchObject({ ok: true, pa: 0x50000n, level: 1 });
    expect(mmu.translate(V1)).toBe(PA1); // the cached translation (4.10.2)
  });
});

describe("register validation (SDM 2.5, 4.1.1, Vol. 2 MOV to CR)", () => {
  it("refuses CR3 bits at or above MAXPHYADDR, changing nothing", () => {
    const mmu = setup([], { maxPhyAddr: 36 });
    const root = mmu.cr3;
    const state = mmu.state;
    expect(() => (mmu.cr3 = 1n << 36n)).toThrow(RegisterError);
    expect(() => (mmu.cr3 = 1n << 51n)).toThrow(RegisterError);
    expect(() => (mmu.cr3 = root | (1n << 40n))).toThrow(RegisterError);
    expect(mmu.state).toEqual(state);
    expect(() => mmu.loadState({ ...LONG_MODE, cr3: 1n << 40n })).toThrow(RegisterError);
    expect(mmu.state).toEqual(state);
    expect(mmu.translate(V1)).toBe(PA1);
    mmu.cr3 = (1n << 36n) - 0x1000n; // highest page below 2^36: allowed
    expect(mmu.cr3).toBe(0xffffff000n);
  });

  it("refuses CR0.PG=1 with CR0.PE=0", () => {
    const mmu = new Mmu();
    expect(() => (mmu.cr0 = 0x80000000n)).toThrow(RegisterError);
    expect(() => mmu.loadState({ cr0: 0x80000000n, cr3: 0n, cr4: 0x20n, efer: 0xd00n })).toThrow(RegisterError);
    expect(mmu.cr0).toBe(0x60000010n);
  });

  it("refuses long mode without PAE (32-bit and PAE paging are test/legacy-modes.test.ts's)", () => {
    const mmu = new Mmu();
    // 4.1.1 / 9.8.5: enabling paging with EFER.LME=1 requires CR4.PAE=1
    expect(() => mmu.loadState({ cr0: 0x80000011n, cr3: 0n, cr4: 0n, efer: 0x500n })).toThrow(RegisterError);
    expect(mmu.cr0).toBe(0x60000010n);
  });

  it("refuses to clear CR4.PAE or change CR4.LA57 in long mode", () => {
    const mmu = setup();
    const state = mmu.state;
    expect(() => (mmu.cr4 = 0n)).toThrow(RegisterError);
    expect(() => (mmu.cr4 = state.cr4 | (1n << 12n))).toThrow(RegisterError);
    expect(mmu.state).toEqual(state);
  });

  it("refuses to set CR4.PCIDE while CR3[11:0] != 0", () => {
    const mmu = setup();
    const root = mmu.cr3;
    mmu.cr3 = root | 0x8n; // PWT
    const state = mmu.state;
    expect(() => (mmu.cr4 = state.cr4 | (1n << 17n))).toThrow(RegisterError);
    expect(mmu.state).toEqual(state);
    mmu.cr3 = root;
    mmu.cr4 = state.cr4 | (1n << 17n);
    expect(mmu.cr4).toBe(state.cr4 | (1n << 17n));
  });

  it("refuses PKRU / PKRS values that are not u32 and MAXPHYADDR outside 36..52", () => {
    const mmu = setup();
    expect(() => (mmu.pkru = -1)).toThrow(RegisterError);
    expect(() => (mmu.pkru = 2 ** 32)).toThrow(RegisterError);
    expect(() => (mmu.pkrs = 0.5)).toThrow(RegisterError);
    expect(() => (mmu.maxPhyAddr = 35)).toThrow(RegisterError);
    expect(() => (mmu.maxPhyAddr = 53)).toThrow(RegisterError);
    expect(mmu.maxPhyAddr).toBe(52);
  });
});

describe("paging off (CR0.PG=0)", () => {
  it("linear addresses are physical addresses (SDM 4.1.1)", () => {
    const mmu = new Mmu();
    expect(mmu.translate(0x12345678n)).toBe(0x12345678n);
    expect(mmu.translate(0xffffffffn, { op: "write", cpl: 3 })).toBe(0xffffffffn);
    expect(mmu.translateNumber(0x1000, encodeAccess({ op: "fetch" }))).toBe(0x1000);
    mmu.write(0x2000n, 4, 0xcafef00d);
    expect(mmu.memory.read(0x2000n, 4)).toBe(0xcafef00dn);
    expect(mmu.read(0x2000n, 4)).toBe(0xcafef00dn);
    mmu.memory.write(0x3000n, 1, 0x90);
    expect(mmu.fetch(0x3000n)).toBe(0x90);
  });

  it("clearing CR0.PG of a long-mode state turns translation off", () => {
    const mmu = setup();
    expect(mmu.translate(V1)).toBe(PA1);
    mmu.loadState({ cr0: 0x11n, cr3: mmu.cr3, cr4: 0x20n, efer: 0x100n }); // PE|ET, LME only (LMA=0)
    expect(mmu.translate(V1)).toBe(V1);
  });
});
